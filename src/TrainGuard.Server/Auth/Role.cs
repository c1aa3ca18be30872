using System.Security.Cryptography;
using System.Text;

namespace TrainGuard.Server.Auth;

/// <summary>What a bearer token may do.</summary>
public enum Role
{
    /// <summary>May only append events.</summary>
    Agent = 1,

    /// <summary>May query events and proofs.</summary>
    Reader = 2,

    /// <summary>May do everything.</summary>
    Admin = 3,
}

public static class Roles
{
    public static string ToWireName(this Role role) => role switch
    {
        Role.Agent => "agent",
        Role.Reader => "reader",
        Role.Admin => "admin",
        _ => "unknown",
    };

    public static bool TryParse(string? text, out Role role)
    {
        role = text switch
        {
            "agent" => Role.Agent,
            "reader" => Role.Reader,
            "admin" => Role.Admin,
            _ => 0,
        };
        return role != 0;
    }

    /// <summary>True when a token of role <paramref name="role"/> may do what <paramref name="needed"/> allows.</summary>
    public static bool Allows(this Role role, Role needed) => role == Role.Admin || role == needed;
}

/// <summary>API tokens: 256 random bits, printed once, stored only as SHA-256.</summary>
public static class ApiTokens
{
    public const string Prefix = "tgt_";

    /// <summary>A fresh token string (<c>tgt_</c> + base64url of 32 random bytes).</summary>
    public static string NewToken() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>SHA-256 of the token's UTF-8 bytes: what the store keeps.</summary>
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
