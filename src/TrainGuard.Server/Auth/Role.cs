using System.Security.Cryptography;
using System.Text;

namespace TrainGuard.Server.Auth;

/// <summary>What a bearer token may do.</summary>
public enum Role
{
    /// <summary>May only append events (for its own host when bound to one).</summary>
    Agent = 1,

    /// <summary>May query events, entry bundles, inclusion proofs and metrics.</summary>
    Reader = 2,

    /// <summary>May do everything.</summary>
    Admin = 3,

    /// <summary>May only append <c>checkpoint-*</c> events whose actor (<c>user.name</c>) is its own person (<c>ckpt sign --server</c>).</summary>
    Signer = 4,

    /// <summary>May read everything a reader reads and change an alert's status (acknowledge, close, reopen); optionally bound to a person.</summary>
    Responder = 5,
}

public static class Roles
{
    public static string ToWireName(this Role role) => role switch
    {
        Role.Agent => "agent",
        Role.Reader => "reader",
        Role.Admin => "admin",
        Role.Signer => "signer",
        Role.Responder => "responder",
        _ => "unknown",
    };

    public static bool TryParse(string? text, out Role role)
    {
        role = text switch
        {
            "agent" => Role.Agent,
            "reader" => Role.Reader,
            "admin" => Role.Admin,
            "signer" => Role.Signer,
            "responder" => Role.Responder,
            _ => 0,
        };
        return role != 0;
    }

    /// <summary>
    /// True when a token of role <paramref name="role"/> may do what <paramref name="needed"/> allows: its own role,
    /// admin everything, a responder also what a reader may.
    /// </summary>
    public static bool Allows(this Role role, Role needed) =>
        role == Role.Admin || role == needed || (role == Role.Responder && needed == Role.Reader);

    /// <summary>What the identity a token of this role is bound to names: <c>host</c> (agent), <c>user</c> (signer, responder), or null.</summary>
    public static string? IdentityKind(this Role role) => role switch
    {
        Role.Agent => "host",
        Role.Signer or Role.Responder => "user",
        _ => null,
    };
}

/// <summary>API tokens: 256 random bits, printed once, stored only as SHA-256.</summary>
public static class ApiTokens
{
    public const string Prefix = "tgt_";

    /// <summary>Hex digits of the hash that name a token (<c>server token list</c>, <c>revoke</c>, <c>trainguard.submitter.token_id</c>).</summary>
    public const int IdLength = 12;

    /// <summary>Longest identity (host or person) a token may be bound to.</summary>
    public const int MaxIdentityLength = 128;

    /// <summary>Longest label stored with a token.</summary>
    public const int MaxLabelLength = 200;

    /// <summary>A fresh token string (<c>tgt_</c> + base64url of 32 random bytes).</summary>
    public static string NewToken() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>SHA-256 of the token's UTF-8 bytes: what the store keeps.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The token's public id: the first <see cref="IdLength"/> hex digits of its hash (not a secret).</summary>
    public static string Id(ReadOnlySpan<byte> tokenHash) => Convert.ToHexStringLower(tokenHash[..(IdLength / 2)]);

    /// <summary>Null when <paramref name="identity"/> may name a host or person; otherwise what is wrong with it.</summary>
    public static string? CheckIdentity(string identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (identity.Length is 0 or > MaxIdentityLength)
        {
            return $"an identity is 1 to {MaxIdentityLength} characters";
        }

        foreach (var c in identity)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) || c == '/' || char.IsSurrogate(c))
            {
                return "an identity has no spaces, control characters or '/'";
            }
        }

        return null;
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
