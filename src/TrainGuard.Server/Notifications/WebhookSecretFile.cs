using System.Text;

namespace TrainGuard.Server.Notifications;

/// <summary>A target's secret material: where to POST and the signing secrets, newest first.</summary>
public sealed record WebhookCredentials(Uri Url, IReadOnlyList<WebhookSecret> Secrets);

/// <summary>
/// The file that holds one target's delivery URL and signing secrets: <c>&lt;data-dir&gt;/webhooks/&lt;id&gt;.secret</c>,
/// mode 0600 in a 0700 folder, never in the database (a database reader learns where alerts go, not how to forge
/// them). Lines: <c>url URL</c> once, then <c>secret whsec_…</c> per signing secret, newest first; <c>#</c> comments.
/// A file that other users may read is refused, as is a malformed one; errors name the file and line, never a value.
/// </summary>
public static class WebhookSecretFile
{
    public const string FolderName = "webhooks";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int MaxFileBytes = 64 * 1024;

    public static string PathFor(string dataDirectory, string targetId) => Path.Combine(dataDirectory, FolderName, targetId + ".secret");

    /// <summary>Writes a new secrets file (it must not exist yet), mode 0600, flushed to disk.</summary>
    public static void Create(string dataDirectory, WebhookTarget target, WebhookCredentials credentials)
    {
        var folder = Path.Combine(dataDirectory, FolderName);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, OwnerOnlyFolder);
        }

        Write(PathFor(dataDirectory, target.Id), target, credentials, FileMode.CreateNew);
    }

    /// <summary>Replaces the secrets of an existing file (rotation) through a new file renamed over the old one.</summary>
    public static void Replace(string dataDirectory, WebhookTarget target, WebhookCredentials credentials)
    {
        var path = PathFor(dataDirectory, target.Id);
        var temporary = path + ".new";
        File.Delete(temporary);
        Write(temporary, target, credentials, FileMode.CreateNew);
        File.Move(temporary, path, overwrite: true);
    }

    public static void Delete(string dataDirectory, string targetId) => File.Delete(PathFor(dataDirectory, targetId));

    /// <summary>Reads a target's credentials.</summary>
    /// <exception cref="InvalidOperationException">Missing, readable by others, too large or malformed (the message names file and line).</exception>
    public static WebhookCredentials Load(string dataDirectory, WebhookTarget target)
    {
        var path = PathFor(dataDirectory, target.Id);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{path}: the secrets file of webhook target '{target.Name}' is missing (it lives in the data directory of the server that ran 'webhook add'; copy it to every server on this database)");
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~OwnerOnly & (UnixFileMode)0x1FF) != 0)
        {
            throw new InvalidOperationException($"{path}: other users may read or run the secrets file of webhook target '{target.Name}' (mode {Convert.ToString((int)File.GetUnixFileMode(path) & 0x1FF, 8)}); chmod 600 it");
        }

        if (new FileInfo(path).Length > MaxFileBytes)
        {
            throw new InvalidOperationException($"{path}: over {MaxFileBytes} bytes, not a webhook secrets file");
        }

        Uri? url = null;
        var secrets = new List<WebhookSecret>();
        var number = 0;
        foreach (var raw in File.ReadAllLines(path, Encoding.UTF8))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            var key = space < 0 ? line : line[..space];
            var value = space < 0 ? string.Empty : line[(space + 1)..].Trim();
            switch (key)
            {
                case "url" when url is null:
                    if (!Uri.TryCreate(value, UriKind.Absolute, out url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
                    {
                        throw new InvalidOperationException($"{path}:{number}: the url is not an absolute http(s) URL");
                    }

                    break;
                case "url":
                    throw new InvalidOperationException($"{path}:{number}: a second url line");
                case "secret":
                    if (!WebhookSecret.TryParse(value, out var secret, out var error))
                    {
                        throw new InvalidOperationException($"{path}:{number}: {error}");
                    }

                    secrets.Add(secret);
                    break;
                default:
                    throw new InvalidOperationException($"{path}:{number}: unknown line kind (expected 'url' or 'secret')");
            }
        }

        if (url is null)
        {
            throw new InvalidOperationException($"{path}: no url line");
        }

        if (target.Mode == WebhookMode.Standard && secrets.Count == 0)
        {
            throw new InvalidOperationException($"{path}: no secret line (a standard target signs every message)");
        }

        return new WebhookCredentials(url, secrets);
    }

    private static void Write(string path, WebhookTarget target, WebhookCredentials credentials, FileMode mode)
    {
        var text = new StringBuilder()
            .Append("# TrainGuard webhook target '").Append(target.Name).Append("' (").Append(WebhookTarget.ModeName(target.Mode))
            .Append("): delivery URL and signing secrets, newest first. Keep it mode 0600.\n")
            .Append("url ").Append(credentials.Url.AbsoluteUri).Append('\n');
        foreach (var secret in credentials.Secrets)
        {
            text.Append("secret ").Append(secret.Format()).Append('\n');
        }

        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        using var stream = new FileStream(path, options);
        stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
    }
}
