namespace TrainGuard.Server.Alerts;

/// <summary>How an alert's account was found (docs/alerts.md, "How alerts are made").</summary>
public static class AlertAttribution
{
    /// <summary>The events name the account themselves (their login uid, or the account that logged in).</summary>
    public const string Direct = "direct";

    /// <summary>
    /// The events ran in a session opened with an SSH key that another account had written into the session account's
    /// <c>authorized_keys</c>: they are put on the account that planted the key.
    /// </summary>
    public const string PlantedKey = "planted-key";

    /// <summary>
    /// The events name no actor (a finding on disk: a scanned checkpoint, an <c>env verify</c> or <c>ckpt check</c>
    /// finding) and are put on the owner of the file they are about (<c>file.owner</c>): the account that wrote it
    /// unless an administrator changed the owner, or the file was edited in place through group or world write access
    /// (the reason sentence says "owned by", not "written by").
    /// </summary>
    public const string FileOwner = "file-owner";

    /// <summary>The actions whose events may be put on their file's owner: findings about a file's content, made without an actor.</summary>
    public static bool ByFileOwner(string action) =>
        action is "artifact-scanned" or "artifact-unscannable" or "checkpoint-verified" or "checkpoint-inspected" or "env-finding";
}
