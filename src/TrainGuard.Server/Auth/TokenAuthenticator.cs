using System.Collections.Concurrent;
using System.Data.Common;
using TrainGuard.Server.Storage;

namespace TrainGuard.Server.Auth;

/// <summary>Why a bearer token was accepted or not.</summary>
public enum TokenStatus
{
    Valid,
    Unknown,
    Revoked,
    Expired,
}

/// <summary>The outcome of <see cref="TokenAuthenticator.AuthenticateAsync"/>: the token as stored (null when unknown) and whether it may be used now.</summary>
public readonly record struct TokenCheck(TokenStatus Status, TokenInfo? Token);

/// <summary>
/// Resolves bearer tokens through their stored SHA-256. A token read from the store is remembered for at most
/// <see cref="MaxCacheTime"/> (one second), so a revocation or a new expiry written by another process (the CLI on the
/// same database) bites within that bound; <see cref="Forget"/> drops a token revoked in this process at once. Expiry is
/// checked on every request. Last use is written back at most once a minute per token.
/// </summary>
public sealed class TokenAuthenticator
{
    /// <summary>Tokens longer than this are refused without a lookup.</summary>
    public const int MaxTokenLength = 256;

    /// <summary>The longest a token is trusted without looking at the store again.</summary>
    public static readonly TimeSpan MaxCacheTime = TimeSpan.FromSeconds(1);

    /// <summary>How stale the stored last-use time may get.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    private readonly IServerStore _store;
    private readonly long _cacheTicks;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (TokenInfo Token, long Until)> _cache = new(StringComparer.Ordinal);

    /// <param name="cacheTime">How long a looked-up token is remembered; at most <see cref="MaxCacheTime"/> (longer values are cut to it).</param>
    public TokenAuthenticator(IServerStore store, TimeSpan cacheTime, TimeProvider? time = null)
    {
        _store = store;
        _time = time ?? TimeProvider.System;
        var bounded = cacheTime > MaxCacheTime ? MaxCacheTime : cacheTime < TimeSpan.Zero ? TimeSpan.Zero : cacheTime;
        _cacheTicks = (long)(bounded.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>The token with this text as stored, and whether it may be used now.</summary>
    public async Task<TokenCheck> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length is 0 or > MaxTokenLength)
        {
            return new TokenCheck(TokenStatus.Unknown, null);
        }

        var hash = ApiTokens.Hash(token);
        var key = Convert.ToBase64String(hash);
        var now = _time.GetTimestamp();
        TokenInfo? found;
        if (_cache.TryGetValue(key, out var cached) && cached.Until > now)
        {
            found = cached.Token;
        }
        else
        {
            found = await _store.FindTokenAsync(hash, cancellationToken);
            if (found is null || found.Role == 0)
            {
                _cache.TryRemove(key, out _);
                return new TokenCheck(TokenStatus.Unknown, null);
            }

            var wallClock = _time.GetUtcNow();
            if (found.RevokedAt is null && (found.LastUsedAt is not { } used || wallClock - used >= LastUsedResolution))
            {
                try
                {
                    await _store.MarkTokenUsedAsync(hash, wallClock, cancellationToken);
                    found = found with { LastUsedAt = wallClock };
                }
                catch (DbException)
                {
                    // The last-use time is informational: a busy or read-only store does not refuse the request.
                }
            }

            if (_cache.Count > 10_000)
            {
                _cache.Clear();
            }

            _cache[key] = (found, now + _cacheTicks);
        }

        var status = found.RevokedAt is not null ? TokenStatus.Revoked
            : found.IsExpired(_time.GetUtcNow()) ? TokenStatus.Expired
            : TokenStatus.Valid;
        return new TokenCheck(status, found);
    }

    /// <summary>Forgets what is remembered of the token with public id <paramref name="tokenId"/> (it was just revoked in this process).</summary>
    public void Forget(string tokenId)
    {
        foreach (var (key, entry) in _cache)
        {
            if (string.Equals(entry.Token.Id, tokenId, StringComparison.OrdinalIgnoreCase))
            {
                _cache.TryRemove(key, out _);
            }
        }
    }
}
