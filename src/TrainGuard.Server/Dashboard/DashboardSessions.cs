using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace TrainGuard.Server.Dashboard;

/// <summary>
/// Dashboard sessions, kept in this process's memory only: a login exchanges an API token for a random 256-bit
/// session id (the cookie's value). The token itself stays here, so every request checks it again (a revoked or
/// expired token ends its sessions within the token cache time); a session ends after <see cref="IdleTimeout"/> without
/// a request, after <see cref="MaxAge"/> in all, at logout, or when the server restarts.
/// </summary>
internal sealed class DashboardSessions
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromHours(2);

    public static readonly TimeSpan MaxAge = TimeSpan.FromHours(12);

    /// <summary>Most sessions kept; past it the oldest are dropped.</summary>
    public const int MaxSessions = 10_000;

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public DashboardSessions(TimeProvider time)
    {
        _time = time;
    }

    public int Count => _sessions.Count;

    /// <summary>Starts a session for <paramref name="token"/> and returns its id.</summary>
    public string Start(string token)
    {
        var now = _time.GetUtcNow();
        if (_sessions.Count >= MaxSessions)
        {
            foreach (var (id, _) in _sessions.OrderBy(s => s.Value.Created).Take(_sessions.Count - MaxSessions + 1))
            {
                _sessions.TryRemove(id, out _);
            }
        }

        var sessionId = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _sessions[sessionId] = new Session(token, now) { LastSeen = now };
        return sessionId;
    }

    /// <summary>The token of a live session (and marks it used), or null when the id is unknown or the session timed out.</summary>
    public string? Resolve(string? sessionId)
    {
        if (string.IsNullOrEmpty(sessionId) || sessionId.Length > 64 || !_sessions.TryGetValue(sessionId, out var session))
        {
            return null;
        }

        var now = _time.GetUtcNow();
        if (now - session.LastSeen > IdleTimeout || now - session.Created > MaxAge)
        {
            _sessions.TryRemove(sessionId, out _);
            return null;
        }

        session.LastSeen = now;
        return session.Token;
    }

    public void End(string? sessionId)
    {
        if (!string.IsNullOrEmpty(sessionId))
        {
            _sessions.TryRemove(sessionId, out _);
        }
    }

    private sealed record Session(string Token, DateTimeOffset Created)
    {
        public DateTimeOffset LastSeen { get; set; }
    }
}
