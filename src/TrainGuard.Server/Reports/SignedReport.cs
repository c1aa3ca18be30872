using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TrainGuard.Events;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Server.Reports;

/// <summary>What a report's signature says: which report, which content digest, and the ledger entry that recorded it.</summary>
public sealed record ReportSeal(string Id, string Format, string Sha256, string Since, string Until, string Issued, long LedgerIndex);

/// <summary>
/// A report file with its signature (docs/report.md, "Signature"). The signature is a signed note (C2SP) by the log's
/// key whose text names the report, its format, the SHA-256 of its content and the index of the <c>report-issued</c>
/// ledger entry that recorded that digest:
/// <code>
/// trainguard-report/v1
/// id rpt_...
/// format html
/// sha256 &lt;hex&gt;
/// period &lt;since&gt; &lt;until&gt;
/// issued &lt;time&gt;
/// ledger &lt;index&gt;
/// </code>
/// HTML: the content is every byte before the last <see cref="HtmlMarker"/>, which is followed by the note and
/// <c>--&gt;</c>. JSON: the file is <c>{"report": {...}, "signature": "note"}</c> and the content is the RFC 8785
/// canonical form of <c>report</c>.
/// </summary>
public static class SignedReport
{
    public const string Html = "html";
    public const string Json = "json";

    public const string HtmlMarker = "<!-- trainguard-report-signature\n";

    private const string Header = "trainguard-report/v1";

    /// <summary>The content a signature covers for <paramref name="report"/> in <paramref name="format"/>.</summary>
    public static byte[] Content(AuditReport report, string format) => format == Html
        ? Encoding.UTF8.GetBytes(ReportHtml.Render(report))
        : CanonicalJson.Serialize(ReportJson.ToJson(report));

    public static string Sha256(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The note text of <paramref name="seal"/> (what is signed).</summary>
    public static string NoteText(ReportSeal seal)
    {
        ArgumentNullException.ThrowIfNull(seal);
        return string.Create(CultureInfo.InvariantCulture, $"{Header}\nid {seal.Id}\nformat {seal.Format}\nsha256 {seal.Sha256}\nperiod {seal.Since} {seal.Until}\nissued {seal.Issued}\nledger {seal.LedgerIndex}\n");
    }

    /// <summary>The file: <paramref name="content"/> with the signature <paramref name="note"/> attached as the format wants it.</summary>
    public static byte[] Attach(byte[] content, string format, string note)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (format == Html)
        {
            return [.. content, .. Encoding.UTF8.GetBytes(HtmlMarker + note + "-->\n")];
        }

        var file = new JsonObject { ["report"] = JsonNode.Parse(content), ["signature"] = note };
        return Encoding.UTF8.GetBytes(file.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }

    /// <summary>Splits a report file into its format, the content digest and the signature note.</summary>
    /// <exception cref="MalformedInputException">Not a signed TrainGuard report (no signature block, not JSON, no <c>report</c> member).</exception>
    public static (string Format, string Sha256, string Note) Open(byte[] file, string name)
    {
        ArgumentNullException.ThrowIfNull(file);
        var text = Encoding.UTF8.GetString(file);
        if (text.TrimStart().StartsWith('{'))
        {
            JsonObject? root;
            try
            {
                root = JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException ex)
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Corrupt, $"not valid JSON ({ex.Message})", name, line: null, inner: ex);
            }

            if (root?["report"] is not JsonObject report || root["signature"] is not JsonValue signature || !signature.TryGetValue<string>(out var note))
            {
                throw MalformedInputException.CreateAt(InputErrorKind.Corrupt, "not a signed TrainGuard report: a JSON report has the members 'report' and 'signature'", name, line: null);
            }

            return (Json, Sha256(CanonicalJson.Serialize(report)), note);
        }

        var marker = text.LastIndexOf(HtmlMarker, StringComparison.Ordinal);
        var end = marker < 0 ? -1 : text.IndexOf("-->", marker, StringComparison.Ordinal);
        if (marker < 0 || end < 0)
        {
            throw MalformedInputException.CreateAt(InputErrorKind.Corrupt, "not a signed TrainGuard report: no signature block (<!-- trainguard-report-signature ... -->) at its end", name, line: null);
        }

        var content = Encoding.UTF8.GetByteCount(text.AsSpan(0, marker));
        return (Html, Sha256(file.AsSpan(0, content)), text[(marker + HtmlMarker.Length)..end]);
    }

    /// <summary>Reads the seal out of a verified note's text; null when the text is not a report seal.</summary>
    public static ReportSeal? ReadSeal(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n');
        if (lines.Length < 8 || lines[0] != Header)
        {
            return null;
        }

        var fields = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("id", out var id) || !fields.TryGetValue("format", out var format) || !fields.TryGetValue("sha256", out var sha)
            || !fields.TryGetValue("period", out var period) || !fields.TryGetValue("issued", out var issued) || !fields.TryGetValue("ledger", out var ledger)
            || !long.TryParse(ledger, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || period.Split(' ') is not [var since, var until])
        {
            return null;
        }

        return new ReportSeal(id, format, sha, since, until, issued, index);
    }
}

/// <summary>What <c>trainguard report verify</c> concluded.</summary>
public sealed record ReportVerification(bool Valid, string Message, ReportSeal? Seal);

/// <summary>
/// <c>trainguard report verify</c>: the signature by the log key, the content digest against the signed one, and the
/// <c>report-issued</c> ledger entry the signature names against both.
/// </summary>
public static class ReportVerifier
{
    /// <exception cref="MalformedInputException">The file is not a signed report at all.</exception>
    public static async Task<ReportVerification> VerifyAsync(byte[] file, string name, NoteVerifier logKey, Func<long, CancellationToken, Task<byte[]?>> ledgerEntry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logKey);
        ArgumentNullException.ThrowIfNull(ledgerEntry);
        var (format, sha256, noteText) = SignedReport.Open(file, name);
        SignedNote note;
        try
        {
            note = SignedNote.Parse(noteText);
        }
        catch (MalformedInputException ex)
        {
            return new ReportVerification(false, $"the signature block is not a signed note ({ex.Message}): the report was edited", null);
        }

        var opened = note.Verify([logKey]);
        if (!opened.IsVerified)
        {
            return new ReportVerification(false, $"the signature does not verify with the log key {logKey.Name}+{logKey.KeyId:x8} ({opened.Problem}): the report was edited or another key signed it", null);
        }

        if (SignedReport.ReadSeal(note.Text) is not { } seal || seal.Format != format)
        {
            return new ReportVerification(false, "the signed text is not the seal of a report in this format", null);
        }

        if (!string.Equals(seal.Sha256, sha256, StringComparison.Ordinal))
        {
            return new ReportVerification(false, $"the report was edited after it was signed: its content's SHA-256 is {sha256}, the signature covers {seal.Sha256}", seal);
        }

        var entry = await ledgerEntry(seal.LedgerIndex, cancellationToken);
        if (entry is null)
        {
            return new ReportVerification(false, $"the ledger has no entry {seal.LedgerIndex}, where the signature says the report was recorded", seal);
        }

        if (ReportIssuedEvent.Read(entry) is not { } recorded || recorded.Id != seal.Id || recorded.Sha256 != seal.Sha256 || recorded.Format != seal.Format)
        {
            return new ReportVerification(false, $"ledger entry {seal.LedgerIndex} does not record this report ({seal.Id}, sha256 {seal.Sha256})", seal);
        }

        return new ReportVerification(true, $"report {seal.Id} ({seal.Format}, {seal.Since} to {seal.Until}) issued {seal.Issued}: signature by {logKey.Name} verified, content unchanged (sha256 {seal.Sha256}), recorded in ledger entry {seal.LedgerIndex}", seal);
    }
}
