using TrainGuard.Server.Auth;

namespace TrainGuard.Server.Dashboard;

/// <summary>Who is looking at the dashboard: the token behind the session cookie (its public id, role, person and label).</summary>
public sealed record DashboardViewer(string TokenId, Role Role, string? Identity, string? Label)
{
    /// <summary>May acknowledge, close and reopen alerts (a responder or admin token).</summary>
    public bool CanRespond => Role.Allows(Role.Responder);

    /// <summary>The name shown in the header: the token's person, else its label, else its id.</summary>
    public string DisplayName => Identity ?? Label ?? "token " + TokenId;

    public string RoleName => Role.ToWireName();

    /// <summary>The submitter a status change made in this session is recorded as (the same as the API's).</summary>
    internal Submitter ToSubmitter() => new(TokenId, Role, Identity, Label);
}
