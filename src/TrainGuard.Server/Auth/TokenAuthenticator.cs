using System.Collections.Concurrent;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Auth;

/// <summary>Resolves bearer tokens to roles through their stored SHA-256, remembering recent answers briefly.</summary>
public sealed class TokenAuthenticator
{
    /// <summary>Tokens longer than this are refused without a lookup.</summary>
    public const int MaxTokenLength = 256;

    private readonly IServerStore _store;
    private readonly TimeSpan _cacheTime;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Role Role, long Until)> _cache = new(StringComparer.Ordinal);

    public TokenAuthenticator(IServerStore store, TimeSpan cacheTime, TimeProvider? time = null)
    {
        _store = store;
        _cacheTime = cacheTime;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The token's role, or null when it is unknown.</summary>
    public async Task<Role?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return null;
        }

        var hash = ApiTokens.Hash(token);
        var key = Convert.ToBase64String(hash);
        var now = _time.GetTimestamp();
        if (_cache.TryGetValue(key, out var cached) && cached.Until > now)
        {
            return cached.Role;
        }

        var role = await _store.FindTokenRoleAsync(hash, cancellationToken);
        if (role is { } found)
        {
            if (_cache.Count > 10_000)
            {
                _cache.Clear();
            }

            _cache[key] = (found, now + (long)(_cacheTime.TotalSeconds * _time.TimestampFrequency));
        }

        return role;
    }
}
