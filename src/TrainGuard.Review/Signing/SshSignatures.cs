using System.Diagnostics;
using System.Text;

namespace TrainGuard.Review.Signing;

/// <summary>The outcome of checking one signature: the principal of the allowed-signers file it verified for, or why not.</summary>
public sealed record SignatureCheck(bool Valid, string? Principal, string? Key, string Detail)
{
    public static SignatureCheck Failed(string detail) => new(false, null, null, detail);
}

/// <summary>
/// SSH signatures (the SSHSIG format of <c>ssh-keygen -Y</c>) checked by <c>ssh-keygen -Y find-principals</c> and
/// <c>-Y verify</c> against an allowed-signers file, in one namespace: <c>git</c> for commits, <see cref="ApprovalNamespace"/>
/// for approvals, so a signature made for one can never be taken for the other. Signatures and signed data pass through
/// a private temporary folder and standard input; nothing is run but <c>ssh-keygen</c>.
/// </summary>
public sealed class SshSignatures
{
    /// <summary>The namespace of git's SSH commit and tag signatures.</summary>
    public const string GitNamespace = "git";

    /// <summary>TrainGuard's own namespace for review approvals.</summary>
    public const string ApprovalNamespace = "trainguard-review@trainguard";

    public const string Armor = "-----BEGIN SSH SIGNATURE-----";

    private readonly string _allowedSigners;
    private readonly string _sshKeygen;

    public SshSignatures(string allowedSigners, string sshKeygen = "ssh-keygen")
    {
        _allowedSigners = allowedSigners;
        _sshKeygen = sshKeygen;
    }

    /// <summary>Checks <paramref name="signature"/> (armored SSHSIG) over <paramref name="data"/> in <paramref name="namespace"/>.</summary>
    public async Task<SignatureCheck> VerifyAsync(string signature, byte[] data, string @namespace, CancellationToken cancellationToken = default)
    {
        using var folder = new PrivateFolder();
        var sigFile = Path.Combine(folder.Path, "signature.sig");
        File.WriteAllText(sigFile, signature.Trim() + "\n");
        var (code, output, error) = await RunToolAsync(_sshKeygen, ["-Y", "find-principals", "-s", sigFile, "-f", _allowedSigners], null, cancellationToken);
        if (code != 0)
        {
            return SignatureCheck.Failed($"made by no key of the allowed-signers file ({Trim(error.Length > 0 ? error : output)})");
        }

        var problems = new List<string>();
        foreach (var principal in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (verifyCode, verifyOut, verifyErr) = await RunToolAsync(_sshKeygen, ["-Y", "verify", "-f", _allowedSigners, "-I", principal, "-n", @namespace, "-s", sigFile], data, cancellationToken);
            if (verifyCode == 0)
            {
                var key = verifyOut.Split(' ').LastOrDefault(w => w.StartsWith("SHA256:", StringComparison.Ordinal))?.Trim();
                return new SignatureCheck(true, principal, key, Trim(verifyOut));
            }

            problems.Add($"{principal}: {Trim(verifyErr.Length > 0 ? verifyErr : verifyOut)}");
        }

        return SignatureCheck.Failed($"does not verify in namespace '{@namespace}' ({string.Join("; ", problems)})");
    }

    /// <summary>Signs <paramref name="data"/> with the private key file <paramref name="key"/> in <paramref name="namespace"/>; returns the armored signature.</summary>
    /// <exception cref="InvalidOperationException">ssh-keygen refused (the message carries its words).</exception>
    public static async Task<string> SignAsync(byte[] data, string key, string @namespace, string sshKeygen = "ssh-keygen", CancellationToken cancellationToken = default)
    {
        using var folder = new PrivateFolder();
        var file = Path.Combine(folder.Path, "statement");
        File.WriteAllBytes(file, data);
        var (code, output, error) = await RunToolAsync(sshKeygen, ["-Y", "sign", "-f", key, "-n", @namespace, file], null, cancellationToken);
        if (code != 0 || !File.Exists(file + ".sig"))
        {
            throw new InvalidOperationException($"ssh-keygen -Y sign failed: {Trim(error.Length > 0 ? error : output)}");
        }

        return await File.ReadAllTextAsync(file + ".sig", cancellationToken);
    }

    internal static async Task<(int Code, string Output, string Error)> RunToolAsync(string tool, IEnumerable<string> arguments, byte[]? input, CancellationToken cancellationToken, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        try
        {
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} could not be started");
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                if (input is not null)
                {
                    await process.StandardInput.BaseStream.WriteAsync(input, cancellationToken);
                }

                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The tool stopped reading (it refused the input); its exit code and message say why.
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill();
                return (-1, string.Empty, $"{tool} did not finish within 60 s");
            }

            return (process.ExitCode, await stdout, await stderr);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"{tool} could not be started: {ex.Message}", ex);
        }
    }

    internal static string Trim(string text) => Findings.TextSanitizer.Escape(text.Trim(), 300);

    /// <summary>A temporary folder only this user can read, removed when disposed.</summary>
    internal sealed class PrivateFolder : IDisposable
    {
        public PrivateFolder()
        {
            Path = Directory.CreateTempSubdirectory("tg-review-").FullName;
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        public string Path { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>UTF-8 bytes of a text, for the signed payloads.</summary>
    internal static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
