using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Scanner;

/// <summary>The findings and facts gathered while scanning one file (and everything inside it).</summary>
/// <param name="path">The file as reported.</param>
/// <param name="rules">The rule catalogue, asked for only when a finding is added (it may still be loading).</param>
internal sealed class FileScan(string path, Func<RuleCatalog> rules)
{
    private readonly List<Finding> _findings = [];
    private readonly List<string> _members = [];

    public string Path { get; } = path;

    /// <summary>Detected format of the file itself (<c>unknown</c> until detected).</summary>
    public string Format { get; set; } = "unknown";

    /// <summary>What the file is when no finding says otherwise: clean for an analysed model format, skipped for anything else.</summary>
    public Verdict Baseline { get; set; } = Verdict.Skipped;

    public IReadOnlyList<Finding> Findings => _findings;

    /// <summary>The file's name says <c>torch.load</c> (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, <c>.ckpt</c>): a zip must then be a loadable torch checkpoint.</summary>
    public bool TorchLoadName { get; set; }

    /// <summary>Set while the members of a TorchScript archive are analysed: their pickles name the archive's own compiled classes.</summary>
    public bool InTorchScript { get; set; }

    public void AddMember(string member)
    {
        if (_members.Count < 10_000)
        {
            _members.Add(member);
        }
    }

    public void Add(Finding finding) => _findings.Add(finding);

    public void AddRange(IEnumerable<Finding> findings) => _findings.AddRange(findings);

    /// <summary>Adds a finding for a catalogue rule, taking severity, verdict, why and guidance from the rule.</summary>
    public void AddRule(string ruleId, string message, string? member = null, long? offset = null, IReadOnlyDictionary<string, string>? evidence = null, string? global = null, string? call = null)
    {
        _findings.Add(rules().Get(ruleId).Finding(message, new Location(Path, member, offset), evidence, global: global, call: call));
    }

    /// <summary>Turns a parser error into the finding of the format rule its kind maps to (<see cref="RuleCatalog.ClassifyError(MalformedInputException)"/>).</summary>
    public void AddError(MalformedInputException error, string? member)
    {
        var where = error.Member ?? member;
        AddRule(rules().ClassifyError(error).Id, error.Message, where, error.Offset);
    }

    public AnalyzedItem ToItem(long? size, string? sha256, TimeSpan elapsed)
    {
        var verdict = _findings.Aggregate(Baseline, (acc, f) => acc.Combine(f.Verdict));
        return new AnalyzedItem
        {
            Path = Path,
            Format = Format,
            Verdict = verdict,
            Findings = _findings.ToList(),
            Size = size,
            Sha256 = sha256,
            Members = _members.Count > 0 ? _members.ToList() : null,
            Elapsed = elapsed,
        };
    }
}
