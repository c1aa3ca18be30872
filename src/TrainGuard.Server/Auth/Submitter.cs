namespace TrainGuard.Server.Auth;

/// <summary>
/// Who sent a request: the token's public id, role, the identity it is bound to (a host for agent tokens, a person for
/// signer tokens; null for an unbound token) and its label. The server stamps it into every event it commits
/// (<c>trainguard.submitter</c>) and scopes event ids to it.
/// </summary>
public sealed record Submitter(string TokenId, Role Role, string? Identity, string? Label)
{
    /// <summary>The scope event ids are unique in: <c>host:NAME</c>, <c>user:NAME</c>, or empty for unbound tokens (one shared, legacy scope).</summary>
    public string Scope => Identity is null || Role.IdentityKind() is not { } kind ? string.Empty : kind + ":" + Identity;

    /// <summary>The idempotency key of event <paramref name="eventId"/> sent by this submitter.</summary>
    public string KeyFor(string eventId) => Scope.Length == 0 ? eventId : Scope + "/" + eventId;
}
