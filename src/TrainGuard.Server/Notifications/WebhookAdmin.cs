namespace TrainGuard.Server.Notifications;

/// <summary>A target just added: the only time its signing secret is shown (null for Slack targets, whose URL is the secret).</summary>
public sealed record AddedWebhookTarget(WebhookTarget Target, WebhookSecret? Secret);

/// <summary>
/// What an admin does to webhook targets (<c>trainguard server webhook add|remove|rotate</c>): the row in the
/// database and the secrets file in the data directory change together.
/// </summary>
public static class WebhookAdmin
{
    /// <summary>Adds a target; a standard target gets a fresh signing secret, returned once.</summary>
    /// <exception cref="ArgumentException">A bad name or URL (the message names the option).</exception>
    /// <exception cref="InvalidOperationException">A target with this name exists.</exception>
    public static async Task<AddedWebhookTarget> AddAsync(WebhookStore store, string dataDirectory, string name, string url, WebhookMode mode, bool allowInsecureHttp, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!WebhookTarget.IsValidName(name))
        {
            throw new ArgumentException($"--name must be 1 to {WebhookTarget.MaxNameLength} lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", nameof(name));
        }

        if (!WebhookTarget.TryParseUrl(url, allowInsecureHttp, out var parsed, out var error))
        {
            throw new ArgumentException(error, nameof(url));
        }

        if (await store.FindTargetAsync(name, cancellationToken) is not null)
        {
            throw new InvalidOperationException($"a webhook target named '{name}' exists already (remove it first, or choose another name)");
        }

        var target = new WebhookTarget(WebhookTarget.NewId(), name, mode, WebhookTarget.Display(parsed, mode), Enabled: true, DisabledReason: null, now);
        var secret = mode == WebhookMode.Standard ? WebhookSecret.Generate() : null;
        WebhookSecretFile.Create(dataDirectory, target, new WebhookCredentials(parsed, secret is null ? [] : [secret]));
        try
        {
            await store.AddTargetAsync(target, cancellationToken);
        }
        catch
        {
            WebhookSecretFile.Delete(dataDirectory, target.Id);
            throw;
        }

        return new AddedWebhookTarget(target, secret);
    }

    /// <summary>Removes a target and its secrets file; null when no target has this name.</summary>
    public static async Task<WebhookTarget?> RemoveAsync(WebhookStore store, string dataDirectory, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var removed = await store.RemoveTargetAsync(name, cancellationToken);
        if (removed is not null)
        {
            WebhookSecretFile.Delete(dataDirectory, removed.Id);
        }

        return removed;
    }

    /// <summary>
    /// Starts a rotation: a new secret signs first and the newest previous one keeps signing beside it (receivers
    /// accept either); with <paramref name="dropPrevious"/> only the newest secret is kept (the rotation is over).
    /// Returns the new secret, or null when only previous secrets were dropped.
    /// </summary>
    /// <exception cref="InvalidOperationException">No such standard target, or its secrets file is unusable.</exception>
    public static async Task<WebhookSecret?> RotateAsync(WebhookStore store, string dataDirectory, string name, bool dropPrevious, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var target = await store.FindTargetAsync(name, cancellationToken) ?? throw new InvalidOperationException($"no webhook target named '{name}'");
        if (target.Mode != WebhookMode.Standard)
        {
            throw new InvalidOperationException($"webhook target '{name}' is a {WebhookTarget.ModeName(target.Mode)} target: it is not signed (its URL is its secret: remove it and add the new URL)");
        }

        var credentials = WebhookSecretFile.Load(dataDirectory, target);
        if (dropPrevious)
        {
            WebhookSecretFile.Replace(dataDirectory, target, credentials with { Secrets = [credentials.Secrets[0]] });
            return null;
        }

        var fresh = WebhookSecret.Generate();
        WebhookSecretFile.Replace(dataDirectory, target, credentials with { Secrets = [fresh, credentials.Secrets[0]] });
        return fresh;
    }
}
