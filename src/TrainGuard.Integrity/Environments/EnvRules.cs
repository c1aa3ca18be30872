using TrainGuard.Findings;

namespace TrainGuard.Integrity.Environments;

/// <summary>
/// A rule as data: its descriptor (id, name, severity, why, guidance) and, where a pure check exists, the
/// samples it must and must not match (checked by one test over all rules).
/// </summary>
public sealed record EnvRule(RuleDescriptor Descriptor, Func<string, bool>? Matcher = null, IReadOnlyList<string>? MustMatch = null, IReadOnlyList<string>? MustNotMatch = null)
{
    public string Id => Descriptor.Id;

    public Finding Create(Severity severity, string message, Location location, IReadOnlyDictionary<string, string>? evidence = null) => new()
    {
        RuleId = Descriptor.Id,
        Severity = severity,
        Message = message,
        Location = location,
        Verdict = EnvRules.VerdictFor(severity),
        Why = Descriptor.Why,
        Guidance = Descriptor.Guidance,
        Evidence = evidence,
    };
}

/// <summary>The rules of <c>env verify</c> and <c>env diff</c>. Guidance pages: <c>docs/rules/TG-ENV-0xx.md</c>.</summary>
public static class EnvRules
{
    public static readonly EnvRule FileChanged = new(new RuleDescriptor("TG-ENV-001", "installed-file-changed", Severity.Critical,
        "An installed file no longer matches the hash its package recorded at install time (RECORD or dpkg md5sums): someone edited it.",
        "Compare the file with a clean copy (pip download / apt-get download), find who changed it (mtime, audit log), then reinstall the package: pip install --force-reinstall --no-deps <pkg> or apt-get install --reinstall <pkg>."));

    public static readonly EnvRule FileMissing = new(new RuleDescriptor("TG-ENV-002", "installed-file-missing", Severity.Medium,
        "A file the package installed is gone; deleting a module can silently change which code is imported.",
        "Reinstall the package and find out who deleted the file."));

    public static readonly EnvRule UnlistedFile = new(new RuleDescriptor("TG-ENV-003", "unlisted-file", Severity.High,
        "A file inside a package's folders is listed by no RECORD or dpkg md5sums: an injected module is imported like the package's own code.",
        "Read the file; if nobody can explain it, remove it, reinstall the package and investigate who wrote it."),
        Matcher: path => PathImportance.UnlistedSeverity(PathImportance.Classify(path)) >= Severity.High,
        MustMatch: ["torch/optim/_evil.py", "numpy/core/_hook.so", "requests/adapters_patch.py"],
        MustNotMatch: ["torch/optim/README.md", "certifi/extra.pem", "pkg/data/notes.txt"]);

    public static readonly EnvRule RecordMalformed = new(new RuleDescriptor("TG-ENV-004", "record-malformed", Severity.Medium,
        "A RECORD or md5sums line cannot be parsed, so the file it names cannot be verified; editing RECORD is how an attacker hides an edit.",
        "Reinstall the package to restore its RECORD; compare the old RECORD line with the new one."),
        Matcher: line => !RecordFile.TryParseLine(line, 1, out _, out _),
        MustMatch: ["torch/optim/adamw.py,sha256=notbase64!!,100", "a.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0", "a.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "\"unterminated,sha256=x,1", "/abs/path.py,,", "a.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,-1"],
        MustNotMatch: ["a.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0", "pkg-1.0.dist-info/RECORD,,", "\"with,comma.py\",sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0", "../../../bin/tool,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0"]);

    public static readonly EnvRule Unverifiable = new(new RuleDescriptor("TG-ENV-005", "unverifiable-distribution", Severity.Medium,
        "A package (or file) has no hash to check against: no RECORD, no dpkg md5sums, or a RECORD line without a hash. Edits to it are invisible.",
        "Reinstall it with pip (which writes a hashed RECORD) or from the distribution's packages, or record it in a signed baseline (trainguard env baseline)."));

    public static readonly EnvRule PycStale = new(new RuleDescriptor("TG-ENV-006", "pyc-header-mismatch", Severity.Low,
        "A .pyc header does not match its source (mtime/size or source hash). Python normally recompiles it, unless it is an unchecked-hash .pyc, which runs regardless of the source.",
        "Delete the __pycache__ entry (python -m compileall regenerates it); for unchecked-hash .pyc files treat it as replaced code."));

    public static readonly EnvRule PycCodeMismatch = new(new RuleDescriptor("TG-ENV-007", "pyc-code-replaced", Severity.Critical,
        "A .pyc whose header matches an intact source holds different code: Python runs the .pyc, not the source you read.",
        "Delete the .pyc at once, keep a copy as evidence, find who wrote it (mtime, audit log) and check every other __pycache__ the same account could write."));

    public static readonly EnvRule SourcelessPyc = new(new RuleDescriptor("TG-ENV-008", "sourceless-pyc", Severity.High,
        "A .pyc without a source: outside __pycache__ it is imported as the module itself (nobody can read what it does); in __pycache__ it is an orphan Python ignores.",
        "Remove sourceless .pyc files that no package RECORD vouches for; orphans in __pycache__ are harmless leftovers but worth cleaning."),
        Matcher: path => path.EndsWith(".pyc", StringComparison.Ordinal) && !path.Contains("/__pycache__/", StringComparison.Ordinal),
        MustMatch: ["torch/optim/adamw.pyc", "site-packages/sitecustomize.pyc"],
        MustNotMatch: ["torch/optim/__pycache__/adamw.cpython-311.pyc", "torch/optim/adamw.py"]);

    public static readonly EnvRule PthHook = new(new RuleDescriptor("TG-ENV-009", "pth-startup-hook", Severity.High,
        "A .pth file line starting with 'import' is executed by every Python start in this environment, before any user code; a malicious wheel can list its own hook in RECORD.",
        "Read the code shown; remove the .pth file unless it belongs to a package you trust for a reason you know (e.g. an editable install)."),
        Matcher: StartupHooks.IsExecutablePthLine,
        MustMatch: ["import os; os.system('echo pwned')", "import\tsys", "import _virtualenv"],
        MustNotMatch: ["# import os", "/opt/extra/path", " import os", "importlib"]);

    public static readonly EnvRule CustomizeModule = new(new RuleDescriptor("TG-ENV-010", "customize-module", Severity.High,
        "sitecustomize/usercustomize is imported at every interpreter start: code there can patch torch before any training script runs.",
        "Read the code; Debian's own sitecustomize (apport hook) is expected, anything else should be removed and investigated."),
        Matcher: StartupHooks.IsCustomizeModuleName,
        MustMatch: ["sitecustomize.py", "usercustomize.py", "sitecustomize.cpython-311-x86_64-linux-gnu.so", "sitecustomize"],
        MustNotMatch: ["sitecustomize_helper.py", "customize.py", "mysitecustomize.py"]);

    public static readonly EnvRule StartFile = new(new RuleDescriptor("TG-ENV-011", "start-file-hook", Severity.High,
        "A Python 3.15+ <name>.start file (PEP 829) names entry points that site.py calls at every start.",
        "Read the entry points; remove the file unless its package is trusted to run code at startup."),
        Matcher: StartupHooks.IsStartFileName,
        MustMatch: ["evil.start", "coverage.start"],
        MustNotMatch: [".hidden.start", "restart.py", "evil.start.txt"]);

    public static readonly EnvRule Unreadable = new(new RuleDescriptor("TG-ENV-012", "unreadable", Severity.High,
        "A file or record could not be read, so it could not be verified; the result is not clean.",
        "Run again with permission to read the environment (the same account that runs training, or root)."));

    public static readonly EnvRule BaselineChanged = new(new RuleDescriptor("TG-ENV-020", "baseline-file-changed", Severity.Critical,
        "A file's SHA-256 differs from the signed baseline: it changed since the baseline was recorded.",
        "If nobody upgraded the package on purpose, treat it as tampering: keep a copy, restore the file and investigate."));

    public static readonly EnvRule BaselineAdded = new(new RuleDescriptor("TG-ENV-021", "baseline-file-added", Severity.High,
        "A file exists that the signed baseline did not record (a new module, .pth or .pyc).",
        "Explain every added code file; record a new baseline after an intended install."));

    public static readonly EnvRule BaselineRemoved = new(new RuleDescriptor("TG-ENV-022", "baseline-file-removed", Severity.Medium,
        "A file recorded in the signed baseline is gone.",
        "Explain the removal (uninstall, upgrade) or restore the file."));

    public static readonly EnvRule BaselineSignature = new(new RuleDescriptor("TG-ENV-023", "baseline-signature-invalid", Severity.Critical,
        "The baseline's signature or manifest does not verify with the given public key: the baseline itself cannot be trusted.",
        "Use the baseline produced by your own key; if it was replaced, treat the environment and the baseline store as compromised."));

    public static IReadOnlyList<EnvRule> All { get; } =
    [
        FileChanged, FileMissing, UnlistedFile, RecordMalformed, Unverifiable, PycStale, PycCodeMismatch, SourcelessPyc,
        PthHook, CustomizeModule, StartFile, Unreadable, BaselineChanged, BaselineAdded, BaselineRemoved, BaselineSignature,
    ];

    public static IReadOnlyList<RuleDescriptor> Descriptors { get; } = All.Select(r => r.Descriptor).ToList();

    /// <summary>Critical is malicious, high and medium suspicious, low and info leave the package clean.</summary>
    public static Verdict VerdictFor(Severity severity) => severity switch
    {
        Severity.Critical => Verdict.Malicious,
        Severity.High or Severity.Medium => Verdict.Suspicious,
        _ => Verdict.Clean,
    };
}
