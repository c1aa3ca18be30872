namespace TrainGuard.Review.Signing;

/// <summary>
/// OpenPGP commit signatures checked with <c>gpgv</c> against a pinned keyring (<c>gpg --export KEY... &gt; keyring.gpg</c>),
/// never the user's own keyring: a private, empty home folder is used for every check. The principal is the e-mail address
/// of the key's user id in the pinned keyring (what <c>GOODSIG</c> reports), not what the commit claims.
/// </summary>
public sealed class GpgSignatures
{
    public const string Armor = "-----BEGIN PGP SIGNATURE-----";

    private readonly string _keyring;
    private readonly string _gpgv;

    public GpgSignatures(string keyring, string gpgv = "gpgv")
    {
        _keyring = Path.GetFullPath(keyring);
        _gpgv = gpgv;
    }

    public async Task<SignatureCheck> VerifyAsync(string signature, byte[] data, CancellationToken cancellationToken = default)
    {
        using var folder = new SshSignatures.PrivateFolder();
        var sigFile = Path.Combine(folder.Path, "signature.asc");
        var dataFile = Path.Combine(folder.Path, "data");
        await File.WriteAllTextAsync(sigFile, signature, cancellationToken);
        await File.WriteAllBytesAsync(dataFile, data, cancellationToken);
        var environment = new Dictionary<string, string> { ["GNUPGHOME"] = folder.Path, ["LC_ALL"] = "C" };
        var (code, output, error) = await SshSignatures.RunToolAsync(_gpgv, ["--homedir", folder.Path, "--status-fd", "1", "--keyring", _keyring, sigFile, dataFile], null, cancellationToken, environment);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var valid = lines.FirstOrDefault(l => l.StartsWith("[GNUPG:] VALIDSIG ", StringComparison.Ordinal));
        var good = lines.FirstOrDefault(l => l.StartsWith("[GNUPG:] GOODSIG ", StringComparison.Ordinal));
        if (code != 0 || valid is null || good is null)
        {
            var why = lines.FirstOrDefault(l => l.Contains("NO_PUBKEY", StringComparison.Ordinal)) is not null ? "made by a key that is not in the pinned keyring"
                : lines.Any(l => l.Contains("BADSIG", StringComparison.Ordinal)) ? "bad signature (the commit was changed after signing)"
                : SshSignatures.Trim(error.Length > 0 ? error : output);
            return SignatureCheck.Failed($"does not verify with the pinned keyring: {why}");
        }

        var fields = valid.Split(' ');
        var fingerprint = fields.Length > 11 ? fields[11] : fields[2];
        var uid = good.Split(' ', 4) is { Length: 4 } parts ? parts[3] : string.Empty;
        var open = uid.LastIndexOf('<');
        var close = uid.LastIndexOf('>');
        var email = open >= 0 && close > open ? uid[(open + 1)..close] : uid;
        return new SignatureCheck(true, email, "OpenPGP:" + fingerprint, SshSignatures.Trim(good));
    }
}
