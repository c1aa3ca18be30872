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
}
