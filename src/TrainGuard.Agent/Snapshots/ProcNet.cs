using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Snapshots;

/// <summary>
/// Lines of <c>/proc/net/tcp</c>, <c>tcp6</c>, <c>udp</c>, <c>udp6</c>:
/// <c>sl local_address rem_address st tx_queue:rx_queue tr:tm-&gt;when retrnsmt uid timeout inode ...</c>.
/// Addresses are the kernel's 32-bit words printed in host byte order (little-endian on x86-64 and
/// aarch64, the platforms the agent supports); ports are already in host order.
/// </summary>
public static class ProcNet
{
    private const string TcpListen = "0A";
    private const string UdpUnconnected = "07";

    /// <summary>A listening TCP socket or an unconnected bound UDP socket; null for other states.</summary>
    /// <exception cref="MalformedInputException">The line does not have the expected fields.</exception>
    public static (string Address, int Port, long Inode, long Uid)? TryParseListening(string line, string transport, bool v6)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 10)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"expected at least 10 fields, found {fields.Length}", 0);
        }

        var state = fields[3];
        var listening = transport == "tcp" ? state == TcpListen : state == UdpUnconnected && IsZeroEndpoint(fields[2]);
        if (!listening)
        {
            return null;
        }

        var (address, port) = ParseEndpoint(fields[1], v6);
        if (!long.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            || !long.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out var inode))
        {
            return MalformedInputException.Throw<(string, int, long, long)?>(InputErrorKind.Syntax, "uid or inode is not a number", 0);
        }

        return (address, port, inode, uid);
    }

    /// <summary>Parses <c>0100007F:0277</c> (IPv4) or 32 hex digits and a port (IPv6).</summary>
    public static (string Address, int Port) ParseEndpoint(string text, bool v6)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var hexLength = v6 ? 32 : 8;
        if (colon != hexLength || text.Length - colon - 1 != 4)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"endpoint '{text}' is not {hexLength} hex digits, a colon and a 4-digit port", 0);
        }

        Span<byte> bytes = stackalloc byte[16];
        for (var word = 0; word < hexLength / 8; word++)
        {
            if (!uint.TryParse(text.AsSpan(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                MalformedInputException.Throw(InputErrorKind.Syntax, $"endpoint '{text}' has a non-hex address", word * 8);
            }

            BinaryPrimitives.WriteUInt32LittleEndian(bytes[(word * 4)..], value);
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port))
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"endpoint '{text}' has a non-hex port", colon + 1);
        }

        var ip = new IPAddress(bytes[..(hexLength / 2)]);
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }

        return (ip.ToString(), port);
    }

    /// <summary>Fuzz target: every line of a <c>/proc/net</c> file, as TCP and UDP, IPv4 and IPv6; throws nothing but <see cref="MalformedInputException"/>.</summary>
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        foreach (var line in System.Text.Encoding.ASCII.GetString(data).Split('\n'))
        {
            foreach (var (transport, v6) in new[] { ("tcp", false), ("tcp", true), ("udp", false), ("udp", true) })
            {
                try
                {
                    _ = TryParseListening(line, transport, v6);
                }
                catch (MalformedInputException)
                {
                    // The allowed outcome for a bad line; the next line is still tried, as the snapshot reader does.
                }
            }
        }
    }

    private static bool IsZeroEndpoint(string text) => text.All(c => c is '0' or ':');
}
