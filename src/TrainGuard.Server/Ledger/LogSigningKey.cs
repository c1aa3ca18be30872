using System.Text;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Ledger;

/// <summary>
/// The log's Ed25519 tree head-signing key, kept in the data directory as a signed-note signer key string
/// (file mode 0600, in a data directory made 0700), created on first use. Its key name is the log's origin.
/// </summary>
public static class LogSigningKey
{
    public const string FileName = "log-signing.key";

    /// <summary>The origin used when none is given: <c>&lt;host name&gt;/trainguard</c>.</summary>
    public static string DefaultOrigin()
    {
        var host = new string([.. Environment.MachineName.ToLowerInvariant().Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.')]);
        return (host.Length == 0 ? "localhost" : host) + "/trainguard";
    }

    /// <summary>The environment variable that may hold the signer key itself (several servers share one key by configuration).</summary>
    public const string EnvironmentVariable = "TRAINGUARD_LOG_SIGNING_KEY";

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>
    /// The key a server signs with: the file <paramref name="keyFile"/> when given, else the key in
    /// <see cref="EnvironmentVariable"/> when set, else the data directory's (created on first use). Servers sharing one
    /// database must sign with one key: give each the same file or variable.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key is unreadable, or made for another origin than <paramref name="origin"/>.</exception>
    public static NoteSigner Resolve(string dataDirectory, string? keyFile, string? origin = null)
    {
        if (keyFile is not null)
        {
            if (!File.Exists(keyFile))
            {
                throw new InvalidOperationException($"--log-signing-key: {Path.GetFullPath(keyFile)} does not exist");
            }

            Storage.PrivateFiles.Restrict(keyFile);
            return Parse(File.ReadAllText(keyFile), Path.GetFullPath(keyFile), origin);
        }

        return Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } text
            ? Parse(text, "$" + EnvironmentVariable, origin)
            : LoadOrCreate(dataDirectory, origin);
    }

    /// <summary>Loads the key in <paramref name="dataDirectory"/>, creating it for <paramref name="origin"/> (or the default) when absent.</summary>
    /// <exception cref="InvalidOperationException">The stored key is unreadable or was made for another origin.</exception>
    public static NoteSigner LoadOrCreate(string dataDirectory, string? origin = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        var path = PathIn(dataDirectory);
        if (!File.Exists(path))
        {
            Storage.PrivateFiles.CreateDirectory(dataDirectory);
            using var generated = NoteSigner.Generate(origin ?? DefaultOrigin());
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = Storage.PrivateFiles.FileMode;
                }

                using var stream = new FileStream(path, options);
                stream.Write(Encoding.UTF8.GetBytes(generated.SignerKey + "\n"));
                stream.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
            }
        }

        // A key file others may read (made by hand, or copied in) is narrowed to its owner.
        Storage.PrivateFiles.Restrict(path);
        return Parse(File.ReadAllText(path), path, origin);
    }

    private static NoteSigner Parse(string text, string source, string? origin)
    {
        NoteSigner signer;
        try
        {
            signer = NoteSigner.Parse(text.Trim());
        }
        catch (MalformedInputException ex)
        {
            throw new InvalidOperationException($"{source} is not a signer key: {ex.Message}", ex);
        }

        if (origin is not null && !string.Equals(origin, signer.Name, StringComparison.Ordinal))
        {
            var name = signer.Name;
            signer.Dispose();
            throw new InvalidOperationException($"{source} signs for origin '{name}', not '{origin}': drop --origin or use another key");
        }

        return signer;
    }
}
