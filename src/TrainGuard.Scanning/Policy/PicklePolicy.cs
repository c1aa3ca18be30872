using System.Globalization;
using System.Text.RegularExpressions;
using TrainGuard.Findings;
using TrainGuard.Pickle;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// Turns a symbolic <see cref="PickleAnalysis"/> into findings, default deny:
/// <list type="bullet">
/// <item>every import is checked: on the profile's allowlist (or <c>--allow</c>) it passes; a known-dangerous
/// global gets that rule's finding; anything else is <see cref="RuleIds.UnknownGlobal"/>;</item>
/// <item>a call that involves a dangerous global (as its callable or anywhere in its arguments) is reported on the
/// call, e.g. <c>os.system('echo pwned') would run via REDUCE at offset 0x1a</c>; the import it used is then not
/// reported again, while an import that is never called still gets its own finding;</item>
/// <item>a call whose callable cannot be resolved statically is <see cref="RuleIds.DynamicCall"/> (built from
/// non-allowlisted globals) or <see cref="RuleIds.ComputedCall"/> (built from allowlisted ones);</item>
/// <item>nested pickles are <see cref="RuleIds.NestedPickle"/> and their own analyses are evaluated as the member
/// <c>&lt;member&gt;!/pickle@0x&lt;offset&gt;</c> (offsets inside it relative to the nested bytes);</item>
/// <item>data after STOP is <see cref="RuleIds.TrailingData"/>; a parse error becomes the format rule
/// <see cref="RuleCatalog.ClassifyError"/> picks, and everything found before it is still reported.</item>
/// </list>
/// Names are compared after <see cref="GlobalName.Normalize(string)"/> (<c>__builtin__</c> is <c>builtins</c>).
/// Thread-safe: one instance can evaluate many analyses in parallel.
/// </summary>
public sealed partial class PicklePolicy
{
    /// <summary>Nested pickles deeper than this are not evaluated (a limit finding is reported instead).</summary>
    public const int MaxNestingDepth = 16;

    private const string GetattrName = "builtins.getattr";

    /// <summary>Builtins that generated code (torch.fx) uses on its own values; in code they reach nothing by themselves.</summary>
    private static readonly HashSet<string> BenignInCode = new(StringComparer.Ordinal) { "builtins.getattr", "builtins.type", "builtins.super" };
    private const string SetStateSuffix = ".__setstate__";

    private readonly RuleCatalog _catalog;
    private readonly PolicyOptions _options;
    private readonly Allowlist _allowlist;
    private readonly GlobalPattern[] _extra;
    private readonly HashSet<string> _extraExact;

    public PicklePolicy(RuleCatalog catalog, PolicyOptions options)
    {
        options.Validate();
        _catalog = catalog;
        _options = options;
        _allowlist = catalog.GetAllowlist(options.Profile);
        _extra = options.ExtraAllowed.Select(e => PolicyOptions.ParseAllowEntry(e, "--allow", line: null)).ToArray();
        _extraExact = _extra.Where(p => p.Kind == GlobalPatternKind.Exact).Select(p => GlobalName.Normalize(p.Text)).ToHashSet(StringComparer.Ordinal);
    }

    public PolicyOptions Options => _options;

    /// <summary>
    /// Evaluates one analysis. <paramref name="baseOffset"/> is where the analysed buffer starts inside
    /// <paramref name="member"/> (or the file), so reported offsets point at real bytes.
    /// </summary>
    public IReadOnlyList<Finding> Evaluate(PickleAnalysis analysis, string file, string? member, long baseOffset = 0) =>
        Evaluate(analysis, file, member, baseOffset, torchScriptArchive: false);

    /// <summary>
    /// Evaluates one analysis of a pickle inside a TorchScript archive when <paramref name="torchScriptArchive"/> is
    /// set: there <c>__torch__.*</c> names the classes compiled from the archive's own <c>code/</c> (analysed
    /// separately) and <c>torch.jit._pickle.*</c> the jit unpickler's list and tensor builders, so both are allowed.
    /// </summary>
    public IReadOnlyList<Finding> Evaluate(PickleAnalysis analysis, string file, string? member, long baseOffset, bool torchScriptArchive)
    {
        var findings = new List<Finding>();
        Evaluate(analysis, file, member, baseOffset, depth: 0, findings, torchScriptArchive);
        return findings;
    }

    /// <summary>How this policy judges one <c>module.name</c> (useful for explanations and tests).</summary>
    public GlobalJudgement Judge(string fullName)
    {
        var name = GlobalName.Normalize(fullName);
        var danger = _catalog.MatchDangerous(name);
        if (danger is { } d)
        {
            var pattern = d.ViaSuffix is null ? d.Pattern.Text : $"{d.Pattern.Text} (as {d.ViaSuffix}, reached through an attribute path)";
            return _extraExact.Contains(name)
                ? new GlobalJudgement(name, GlobalStatus.AllowedDangerous, d.Rule, pattern, name)
                : new GlobalJudgement(name, GlobalStatus.Dangerous, d.Rule, pattern, _extra.FirstOrDefault(p => p.Matches(name))?.Text);
        }

        if (_allowlist.Allows(name))
        {
            return new GlobalJudgement(name, GlobalStatus.Allowed, null, null, null);
        }

        if (_catalog.Derived.Find(name) is { } derived)
        {
            var rule = _catalog.Get(derived.RuleId);
            var pattern = $"derived from {derived.Source}: {derived.PathText} (with {string.Join(", ", derived.Parameters)})";
            return _extraExact.Contains(name)
                ? new GlobalJudgement(name, GlobalStatus.AllowedDangerous, rule, pattern, name, derived)
                : new GlobalJudgement(name, GlobalStatus.Dangerous, rule, pattern, _extra.FirstOrDefault(p => p.Matches(name))?.Text, derived);
        }

        var extra = _extra.FirstOrDefault(p => p.AllowsName(name));
        return extra is not null
            ? new GlobalJudgement(name, GlobalStatus.Allowed, null, null, extra.Text)
            : new GlobalJudgement(name, GlobalStatus.Unknown, _catalog.Get(RuleIds.UnknownGlobal), null, null);
    }

    private void Evaluate(PickleAnalysis analysis, string file, string? member, long baseOffset, int depth, List<Finding> output, bool torchScript = false)
    {
        var run = new Run(this, file, member, baseOffset, torchScript);
        run.FindBenignGetattr(analysis.Calls);
        foreach (var call in analysis.Calls)
        {
            run.EvaluateCall(call);
        }

        run.EvaluateImports(analysis.Globals);

        var nestedWork = new List<(NestedPickle Nested, string Member)>();
        foreach (var nested in analysis.Nested)
        {
            var at = baseOffset + nested.Offset;
            var nestedMember = NestedMemberName(member, at);
            nestedWork.Add((nested, nestedMember));
            if (IsFormatInherent(nested))
            {
                continue;
            }

            run.Add(
                _catalog.Get(RuleIds.NestedPickle),
                $"a nested pickle would be loaded via {nested.Via} at offset 0x{at:x}; its contents are reported as member '{nestedMember}'",
                at,
                Evidence(("via", nested.Via), ("nested_member", nestedMember), ("nested_imports", nested.Analysis.Globals.Count.ToString(CultureInfo.InvariantCulture))));
        }

        if (analysis.TrailingDataOffset is { } trailing)
        {
            var at = baseOffset + trailing;
            run.Add(
                _catalog.Get(RuleIds.TrailingData),
                $"data follows the last STOP at offset 0x{at:x}: pickle never reads it, so it can carry a payload for another loader",
                at,
                Evidence(("end_offset", Hex(baseOffset + analysis.EndOffset))));
        }

        if (analysis.Error is { } error)
        {
            var rule = _catalog.ClassifyError(error);
            var errorMember = error.Member ?? member;
            long? at = error.Offset is { } o ? (error.Member is null ? baseOffset + o : o) : null;
            run.Add(rule, $"pickle analysis stopped: {error.Message}", at, null, errorMember);
        }
        else if (analysis.PickleCount == 0)
        {
            run.Add(_catalog.Get(RuleIds.Malformed), "no complete pickle (no STOP opcode was reached): the data was not fully analysed", baseOffset + analysis.EndOffset, null);
        }

        output.AddRange(run.Finish());

        foreach (var (nested, nestedMember) in nestedWork)
        {
            if (depth + 1 >= MaxNestingDepth)
            {
                output.Add(_catalog.Get(RuleIds.LimitExceeded).Finding(
                    $"nested pickles deeper than {MaxNestingDepth} levels are not evaluated",
                    new Location(file, nestedMember, 0)));
                continue;
            }

            Evaluate(nested.Analysis, file, nestedMember, 0, depth + 1, output, torchScript);
        }
    }

    /// <summary>
    /// Nested pickles that are part of their container's format rather than a load a pickle asks for: joblib
    /// stores numpy object arrays as inline pickles. Their contents are evaluated like any other nested pickle,
    /// but their presence alone is not <see cref="RuleIds.NestedPickle"/>.
    /// </summary>
    public static bool IsFormatInherent(NestedPickle nested) =>
        nested.Via.StartsWith("joblib", StringComparison.OrdinalIgnoreCase);

    /// <summary>The member name nested-pickle findings are reported under: <c>&lt;member&gt;!/pickle@0x&lt;offset&gt;</c>.</summary>
    public static string NestedMemberName(string? member, long offset) =>
        member is null ? $"pickle@0x{offset:x}" : $"{member}!/pickle@0x{offset:x}";

    private static string Hex(long value) => $"0x{value:x}";

    private static Dictionary<string, string> Evidence(params (string Key, string? Value)[] items)
    {
        var evidence = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in items)
        {
            if (value is not null)
            {
                evidence[key] = TextSanitizer.Escape(value, 300);
            }
        }

        return evidence;
    }

    [GeneratedRegex("""^\s*(?:builtins\.)?getattr\(\s*(?<target>[A-Za-z_][A-Za-z0-9_.]*)\s*,\s*(?<q>['"])(?<attr>[A-Za-z][A-Za-z0-9_]*)\k<q>\s*\)\s*$""", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex GetattrCallPattern();

    /// <summary>The state of evaluating one (non-nested) analysis.</summary>
    private sealed class Run(PicklePolicy policy, string file, string? member, long baseOffset, bool torchScript)
    {
        private readonly List<(long Order, Finding Finding)> _findings = [];
        private readonly Dictionary<string, GlobalJudgement> _judgements = new(StringComparer.Ordinal);
        private readonly HashSet<PickleGlobal> _reported = [];
        private readonly HashSet<PickleGlobal> _benignUse = [];
        private readonly HashSet<PickleCall> _benignCalls = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<string> _unknownReported = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (int Count, Dictionary<string, string> LastEvidence)> _perGlobal = new(StringComparer.Ordinal);

        public void Add(Rule rule, string message, long? offset, Dictionary<string, string>? evidence, string? overrideMember = null, string? global = null, string? call = null) =>
            _findings.Add((offset ?? long.MaxValue, rule.Finding(message, new Location(file, overrideMember ?? member, offset), evidence, global: global, call: call)));

        public IEnumerable<Finding> Finish()
        {
            foreach (var (_, (count, evidence)) in _perGlobal)
            {
                if (count > policy._options.MaxCallFindingsPerGlobal)
                {
                    evidence["more_calls"] = (count - policy._options.MaxCallFindingsPerGlobal).ToString(CultureInfo.InvariantCulture);
                }
            }

            return _findings.OrderBy(f => f.Order).Select(f => f.Finding);
        }

        /// <summary>Marks the getattr imports used only for enum members, so calls that merely carry the result are not blamed.</summary>
        public void FindBenignGetattr(IEnumerable<PickleCall> calls)
        {
            foreach (var call in calls)
            {
                if (IsBenignGetattr(call))
                {
                    _benignCalls.Add(call);
                    _benignUse.UnionWith(call.Globals);
                }
            }
        }

        public void EvaluateCall(PickleCall call)
        {
            if (_benignCalls.Contains(call))
            {
                return;
            }

            var at = baseOffset + call.Offset;
            if (call.Mutates is { } mutated)
            {
                ReportMutation(call, at, mutated);
                if (call.ResolvedGlobal is null)
                {
                    return; // SETITEM/BUILD into an import: the mutation is the finding
                }
            }

            if (call.Code is { } code)
            {
                // A GraphModule's load is judged by the code it runs, not by the reduce function's name.
                _reported.UnionWith(call.Globals.Where(g => g.EffectiveName == call.ResolvedGlobal));
                EvaluateCode(call, code, at);
                return;
            }

            var resolvedName = call.ResolvedGlobal;
            if (resolvedName is not null && string.Equals(call.Opcode, "BUILD", StringComparison.Ordinal) && resolvedName.EndsWith(SetStateSuffix, StringComparison.Ordinal)
                && Judge(resolvedName).Status != GlobalStatus.Dangerous)
            {
                // BUILD runs the class's __setstate__ (or fills __dict__): judge the class itself, unless its
                // __setstate__ is itself known to reach a sink.
                resolvedName = resolvedName[..^SetStateSuffix.Length];
            }

            var resolved = resolvedName is { Length: > 0 } r ? Judge(r) : (GlobalJudgement?)null;

            // Everything the call is built from that is known to be dangerous.
            var dangerous = new List<(GlobalJudgement Judgement, PickleGlobal? Import)>();
            if (resolved is { Status: GlobalStatus.Dangerous } rd)
            {
                dangerous.Add((rd, call.Globals.FirstOrDefault(g => Judge(g.EffectiveName).Name == rd.Name)));
            }

            foreach (var g in call.Globals)
            {
                var j = Judge(g.EffectiveName);
                if (_benignUse.Contains(g) && j.Name == GetattrName)
                {
                    // The argument holds an enum member fetched by an allowed getattr call.
                    continue;
                }

                if (j.Status == GlobalStatus.Dangerous && !dangerous.Any(d => d.Judgement.Name == j.Name))
                {
                    dangerous.Add((j, g));
                }
            }

            if (dangerous.Count > 0)
            {
                ReportDangerousCall(call, at, resolved, dangerous);
                return;
            }

            if (resolved is null)
            {
                ReportUnresolvedCall(call, at);
                return;
            }

            if (resolved.Value.Status == GlobalStatus.Unknown && _unknownReported.Add(resolved.Value.Name))
            {
                var imports = call.Globals.Where(g => Judge(g.EffectiveName).Name == resolved.Value.Name).ToArray();
                _reported.UnionWith(imports);
                Add(
                    resolved.Value.Rule!,
                    $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}; {resolved.Value.Name} is not on the '{policy._options.Profile.ToName()}' allowlist",
                    at,
                    Evidence(("opcode", call.Opcode), ("import_offset", imports.Length > 0 ? Hex(baseOffset + imports[0].Offset) : null), ("profile", policy._options.Profile.ToName())),
                    global: resolved.Value.Name,
                    call: call.Rendered);
            }
        }

        public void EvaluateImports(IReadOnlyList<PickleGlobal> globals)
        {
            foreach (var group in globals.GroupBy(g => Judge(g.EffectiveName).Name, StringComparer.Ordinal))
            {
                var judgement = Judge(group.Key);
                var first = group.First();
                var at = baseOffset + first.Offset;
                switch (judgement.Status)
                {
                    case GlobalStatus.Allowed:
                        break;
                    case GlobalStatus.AllowedDangerous:
                        Add(
                            policy._catalog.Get(RuleIds.AllowedDangerousGlobal),
                            $"{judgement.Name} is known to be dangerous ({judgement.Rule!.Id} {judgement.Rule.Name}) and is allowed only because the policy names it exactly; imported via {first.Opcode} at offset 0x{at:x}",
                            at,
                            Evidence(("opcode", first.Opcode), ("import_offset", Hex(at)), ("dangerous_rule", judgement.Rule.Id)),
                            global: judgement.Name);
                        break;
                    case GlobalStatus.Dangerous:
                        ReportUncalled(group, judgement, benignAllowed: judgement.Name == GetattrName);
                        break;
                    case GlobalStatus.Unknown:
                        if (!_unknownReported.Contains(judgement.Name))
                        {
                            ReportUncalled(group, judgement, benignAllowed: false);
                        }

                        break;
                }
            }
        }

        private void ReportUncalled(IEnumerable<PickleGlobal> imports, GlobalJudgement judgement, bool benignAllowed)
        {
            var unreported = imports.Where(g => !_reported.Contains(g) && !(benignAllowed && _benignUse.Contains(g))).ToArray();
            if (unreported.Length == 0)
            {
                return;
            }

            var first = unreported[0];
            var at = baseOffset + first.Offset;
            var message = judgement.Status == GlobalStatus.Unknown
                ? $"{judgement.Name} is not on the '{policy._options.Profile.ToName()}' allowlist (imported via {first.Opcode} at offset 0x{at:x})"
                : $"{judgement.Name} is imported via {first.Opcode} at offset 0x{at:x} ({judgement.Rule!.Name}{(judgement.Derived is { } d ? ": " + d.PathText : string.Empty)}); importing it is enough: a load hands the callable to whatever follows";
            if (first.Target is not null)
            {
                message += $"; the pickle spells it {first.FullName}, which resolves to {first.Target} because {first.Via}";
            }

            Add(
                judgement.Rule!,
                message,
                at,
                Evidence(
                    ("spelled", first.Target is null ? null : first.FullName),
                    ("opcode", first.Opcode),
                    ("import_offset", Hex(at)),
                    ("occurrences", unreported.Length > 1 ? unreported.Length.ToString(CultureInfo.InvariantCulture) : null),
                    ("pattern", judgement.Pattern),
                    ("allow_ignored", judgement.IgnoredAllowEntry is { } ignored ? $"'{ignored}' does not cover dangerous globals; name it exactly to allow it" : null),
                    ("profile", judgement.Status == GlobalStatus.Unknown ? policy._options.Profile.ToName() : null)),
                global: judgement.Name);
            _reported.UnionWith(unreported);
        }

        private void ReportDangerousCall(PickleCall call, long at, GlobalJudgement? resolved, List<(GlobalJudgement Judgement, PickleGlobal? Import)> dangerous)
        {
            var primary = resolved is { Status: GlobalStatus.Dangerous } rd
                ? dangerous.First(d => d.Judgement.Name == rd.Name)
                : dangerous.OrderByDescending(d => d.Judgement.Rule!.Severity).First();
            foreach (var d in dangerous)
            {
                if (d.Import is not null)
                {
                    _reported.Add(d.Import);
                }
            }

            foreach (var g in call.Globals)
            {
                if (dangerous.Any(d => d.Judgement.Name == Judge(g.EffectiveName).Name))
                {
                    _reported.Add(g);
                }
            }

            var name = primary.Judgement.Name;
            var count = _perGlobal.TryGetValue(name, out var seen) ? seen.Count + 1 : 1;
            if (count > policy._options.MaxCallFindingsPerGlobal)
            {
                _perGlobal[name] = (count, seen.LastEvidence);
                return;
            }

            var importAt = (primary.Import ?? dangerous.FirstOrDefault(d => d.Import is not null).Import) is { } import ? Hex(baseOffset + import.Offset) : null;
            var message = resolved is { Status: GlobalStatus.Dangerous }
                ? $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}"
                : $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}, built from {name}";
            if (call.Globals.FirstOrDefault(g => g.Target is not null && Judge(g.EffectiveName).Name == name) is { } redirected)
            {
                message += $"; the pickle spells it {redirected.FullName}, which resolves to {redirected.Target} because {redirected.Via}";
            }

            if (primary.Judgement.Derived is { } derived)
            {
                message += $"; {derived.Name} reaches {derived.Path[^1]} ({derived.Category}): {derived.PathText}";
            }
            var evidence = Evidence(
                ("opcode", call.Opcode),
                ("import_offset", importAt),
                ("callable", call.Callable),
                ("dynamic", call.ResolvedGlobal is null ? "true" : null),
                ("involved", dangerous.Count > 1 ? string.Join(", ", dangerous.Select(d => d.Judgement.Name)) : null),
                ("pattern", primary.Judgement.Pattern),
                ("reaches", primary.Judgement.Derived?.PathText),
                ("allow_ignored", primary.Judgement.IgnoredAllowEntry is { } ignored ? $"'{ignored}' does not cover dangerous globals; name it exactly to allow it" : null));
            _perGlobal[name] = (count, evidence);
            Add(primary.Judgement.Rule!, message, at, evidence, global: name, call: call.Rendered);
        }

        /// <summary>
        /// The Python source a call runs (torch.fx GraphModule code): each call in it judged like an import of its
        /// callee; dangerous ones are reported under their own rule with the line, the rest as one
        /// <see cref="RuleIds.EmbeddedCode"/> finding listing them.
        /// </summary>
        private void EvaluateCode(PickleCall call, string code, long at)
        {
            var others = new List<string>();
            var dangerous = 0;
            foreach (var c in PythonSourceCalls.Find(code))
            {
                if (BenignInCode.Contains(c.Name) || c.Name.StartsWith("self.", StringComparison.Ordinal))
                {
                    continue;
                }

                var judgement = Judge(c.Name);
                if (judgement.Status == GlobalStatus.Dangerous && dangerous++ < policy._options.MaxCallFindingsPerGlobal)
                {
                    var where = c.Function is null ? "at module level, so it runs while the file loads" : $"in {c.Function}, which runs when the model is called";
                    Add(
                        judgement.Rule!,
                        $"{c.Text} would run from the code {call.Callable} executes at offset 0x{at:x} (line {c.Line}, {where}); {judgement.Name} ({judgement.Rule!.Name})",
                        at,
                        Evidence(("opcode", call.Opcode), ("code_line", c.Line.ToString(CultureInfo.InvariantCulture)), ("function", c.Function), ("loader", call.Callable), ("pattern", judgement.Pattern), ("reaches", judgement.Derived?.PathText)),
                        global: judgement.Name,
                        call: c.Text);
                }
                else if (judgement.Status != GlobalStatus.Allowed && judgement.Status != GlobalStatus.Dangerous && !others.Contains(c.Name) && others.Count < 20)
                {
                    others.Add(c.Name);
                }
            }

            if (dangerous == 0)
            {
                var lines = code.Split('\n').Length;
                Add(
                    policy._catalog.Get(RuleIds.EmbeddedCode),
                    $"{call.Callable} at offset 0x{at:x} compiles and runs {lines} line(s) of Python carried in the pickle" + (others.Count > 0 ? $"; they call {string.Join(", ", others)}" : string.Empty),
                    at,
                    Evidence(("opcode", call.Opcode), ("loader", call.Callable), ("code_lines", lines.ToString(CultureInfo.InvariantCulture)), ("calls", others.Count > 0 ? string.Join(", ", others) : null)),
                    global: call.ResolvedGlobal,
                    call: call.Rendered);
            }
        }

        /// <summary>BUILD or SETITEM(S)/APPEND(S) into an imported class, function, module or shared object: no data pickle does that.</summary>
        private void ReportMutation(PickleCall call, long at, string mutated)
        {
            var target = call.Globals.FirstOrDefault(g => g.EffectiveName == mutated || mutated.StartsWith(g.EffectiveName + ".", StringComparison.Ordinal));
            if (target is not null)
            {
                _reported.Add(target);
            }

            Add(
                policy._catalog.Get(RuleIds.GlobalStateMutation),
                $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}: it changes the state of {mutated}, which the loading program shares, so later imports and calls through it run what the pickle put there",
                at,
                Evidence(("opcode", call.Opcode), ("mutates", mutated), ("import_offset", target is null ? null : Hex(baseOffset + target.Offset))),
                global: mutated,
                call: call.Rendered);
        }

        private void ReportUnresolvedCall(PickleCall call, long at)
        {
            if (string.Equals(call.Opcode, "BUILD", StringComparison.Ordinal))
            {
                // BUILD sets state on an object made earlier; unknown classes are reported at their import.
                return;
            }

            var notAllowed = call.Globals.Where(g => Judge(g.EffectiveName).Status is GlobalStatus.Unknown or GlobalStatus.Dangerous).ToArray();
            var evidence = Evidence(("opcode", call.Opcode), ("callable", call.Callable));
            if (notAllowed.Length > 0)
            {
                _reported.UnionWith(notAllowed);
                var names = string.Join(", ", notAllowed.Select(g => Judge(g.EffectiveName).Name).Distinct(StringComparer.Ordinal));
                evidence["import_offset"] = Hex(baseOffset + notAllowed[0].Offset);
                Add(
                    policy._catalog.Get(RuleIds.DynamicCall),
                    $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}: the callable is computed at load time from {names}, which is not allowlisted",
                    at,
                    evidence,
                    global: Judge(notAllowed[0].EffectiveName).Name,
                    call: call.Rendered);
            }
            else
            {
                Add(
                    policy._catalog.Get(RuleIds.ComputedCall),
                    $"{call.Rendered} would run via {call.Opcode} at offset 0x{at:x}: the callable is a value computed at load time, which ordinary pickles never call",
                    at,
                    evidence,
                    call: call.Rendered);
            }
        }

        /// <summary><c>getattr(&lt;allowed enum class&gt;, 'MEMBER')</c>: how Python 3.11+ pickles enum members.</summary>
        private bool IsBenignGetattr(PickleCall call)
        {
            if (call.ResolvedGlobal is null || GlobalName.Normalize(call.ResolvedGlobal) != GetattrName)
            {
                return false;
            }

            var match = GetattrCallPattern().Match(call.Rendered);
            if (!match.Success)
            {
                return false;
            }

            var target = GlobalName.Normalize(match.Groups["target"].Value);
            if (!policy._allowlist.GetattrTargets.Contains(target))
            {
                return false;
            }

            var sawTarget = false;
            foreach (var g in call.Globals)
            {
                var name = GlobalName.Normalize(g.EffectiveName);
                if (name == target)
                {
                    sawTarget = true;
                }
                else if (name != GetattrName)
                {
                    return false;
                }
            }

            return sawTarget;
        }

        private GlobalJudgement Judge(string fullName)
        {
            if (!_judgements.TryGetValue(fullName, out var judgement))
            {
                judgement = torchScript && (fullName.StartsWith("__torch__.", StringComparison.Ordinal) || fullName.StartsWith("torch.jit._pickle.", StringComparison.Ordinal))
                    ? new GlobalJudgement(fullName, GlobalStatus.Allowed, null, null, null)
                    : policy.Judge(fullName);
                _judgements[fullName] = judgement;
            }

            return judgement;
        }
    }
}

/// <summary>How a policy classifies one global.</summary>
public enum GlobalStatus
{
    /// <summary>On the profile's allowlist or allowed by the operator.</summary>
    Allowed,

    /// <summary>Matches a dangerous-global rule.</summary>
    Dangerous,

    /// <summary>Matches a dangerous-global rule but the operator allowed it by its exact name.</summary>
    AllowedDangerous,

    /// <summary>Neither: default deny reports it as <see cref="RuleIds.UnknownGlobal"/>.</summary>
    Unknown,
}

/// <param name="Name">The normalised <c>module.name</c>.</param>
/// <param name="Rule">The matching dangerous rule, or the unknown-global rule; null when allowed.</param>
/// <param name="Pattern">The rule pattern that matched, for dangerous globals.</param>
/// <param name="IgnoredAllowEntry">For dangerous globals: an operator allow entry that matched but does not count (a wildcard); for allowed ones: the entry that allowed it.</param>
/// <param name="Derived">For a callable found dangerous by the derived knowledge (not a hand-kept pattern): the call path that reaches the sink.</param>
public readonly record struct GlobalJudgement(string Name, GlobalStatus Status, Rule? Rule, string? Pattern, string? IgnoredAllowEntry, DerivedCallable? Derived = null);
