using System.Buffers.Binary;
using System.Reflection;
using System.Text;
using TrainGuard.Findings;
using TrainGuard.Parsing;
using TrainGuard.Rules;

namespace TrainGuard.Scanning.Policy;

/// <summary>
/// The embedded rule catalogue and derived callables in a compact precomputed form, so a CLI run does not parse
/// ~40 KB of YAML and ~300 KB of JSON (with YamlDotNet's and System.Text.Json's start-up) before it scans anything:
/// about a tenth of a second of CPU on every <c>trainguard scan</c>. The YAML and JSON files stay the source of truth:
/// the snapshot (<c>src/TrainGuard.Scanning/Rules/catalog.snapshot</c>, embedded) is what <see cref="Write"/> makes
/// of the catalogue they give, and it carries a fingerprint of them. When the fingerprint does not match the embedded
/// files (a rule file edited, the snapshot not regenerated), the catalogue is parsed from them as before: the results
/// are the same either way, only start-up is slower. A test (<c>CatalogSnapshotTests</c>) fails while the snapshot
/// is stale and says how to regenerate it.
/// </summary>
/// <remarks>
/// Format (little-endian, counts and indexes 7-bit encoded): magic <c>TGCS</c>, <see cref="FormatVersion"/>, the
/// 8-byte fingerprint, the 8-byte checksum of everything after it, the string table (each distinct string once, UTF-8), the length in bytes of the rules section,
/// the rules section (attribute-path modules, rules, allowlists), then the derived section (version sets, callables).
/// Strings are indexes into the table.
/// </remarks>
internal static class CatalogSnapshot
{
    /// <summary>The embedded snapshot's resource name.</summary>
    internal const string ResourceName = "TrainGuard.Scanning.Rules.catalog.snapshot";

    /// <summary>Where the snapshot lives in the repository (for the test that regenerates it).</summary>
    internal const string RepositoryPath = "src/TrainGuard.Scanning/Rules/catalog.snapshot";

    /// <summary>Bumped with every change to the format or to what a catalogue holds; part of the fingerprint.</summary>
    private const int FormatVersion = 1;

    private const string ResourcePrefix = "TrainGuard.Scanning.Rules.";
    private static ReadOnlySpan<byte> Magic => "TGCS"u8;

    /// <summary>The embedded snapshot, parsed once (the derived callables and the rules are read from it separately).</summary>
    private static readonly Lazy<Parsed?> Embedded = new(ParseEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The names of the embedded files the catalogue is built from: the rule and allowlist YAML and the derived JSON,
    /// in ordinal order.
    /// </summary>
    internal static string[] SourceResourceNames(Assembly assembly) => assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && (n.EndsWith(".yaml", StringComparison.Ordinal) || n.EndsWith(".json", StringComparison.Ordinal)))
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>FNV-1a (64-bit) over the format version and each source file's name and bytes: a staleness check, not a security boundary (the snapshot is in the same assembly as the files).</summary>
    internal static ulong Fingerprint(IEnumerable<(string Name, ReadOnlyMemory<byte> Content)> files)
    {
        var hash = 14695981039346656037UL;
        hash = Mix(hash, LittleEndian(FormatVersion));
        foreach (var (name, content) in files)
        {
            hash = Mix(hash, Encoding.UTF8.GetBytes(name));
            hash = Mix(hash, [0]);
            hash = Mix(hash, LittleEndian(content.Length));
            hash = Mix(hash, content.Span);
        }

        return hash;

        static byte[] LittleEndian(int value)
        {
            var bytes = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
            return bytes;
        }
    }

    /// <summary>FNV-1a (64-bit) of the snapshot's body after its header: a snapshot mangled by a text merge or a bad copy is not used.</summary>
    private static ulong Checksum(ReadOnlySpan<byte> body) => Mix(14695981039346656037UL, body);

    private static ulong Mix(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>The fingerprint of the files embedded in this assembly.</summary>
    internal static ulong EmbeddedFingerprint()
    {
        var assembly = typeof(CatalogSnapshot).Assembly;
        return Fingerprint(SourceResourceNames(assembly).Select(n => (n, (ReadOnlyMemory<byte>)ReadResource(assembly, n))));
    }

    /// <summary>The embedded snapshot's rules, when it matches the embedded files; null otherwise.</summary>
    internal static RuleCatalog? TryLoadEmbeddedCatalog(DerivedCallables derived) =>
        Embedded.Value is { } snapshot ? ReadCatalog(snapshot, derived) : null;

    /// <summary>The embedded snapshot's derived callables, when it matches the embedded files; null otherwise.</summary>
    internal static DerivedCallables? TryLoadEmbeddedDerived() =>
        Embedded.Value is { } snapshot ? ReadDerived(snapshot) : null;

    /// <summary>Serialises a catalogue (rules, allowlists, attribute-path modules and its derived callables).</summary>
    internal static byte[] Write(RuleCatalog catalog, ulong fingerprint)
    {
        var strings = new Dictionary<string, int>(StringComparer.Ordinal);
        var table = new List<string>();
        var rules = new BinaryWriter(new MemoryStream(), Encoding.UTF8);
        var derived = new BinaryWriter(new MemoryStream(), Encoding.UTF8);

        void Str(BinaryWriter w, string s)
        {
            if (!strings.TryGetValue(s, out var index))
            {
                index = table.Count;
                strings.Add(s, index);
                table.Add(s);
            }

            w.Write7BitEncodedInt(index);
        }

        void Strs(BinaryWriter w, IReadOnlyCollection<string> values)
        {
            w.Write7BitEncodedInt(values.Count);
            foreach (var value in values)
            {
                Str(w, value);
            }
        }

        Strs(rules, catalog.AttributePathModules);
        rules.Write7BitEncodedInt(catalog.All.Count);
        foreach (var rule in catalog.All)
        {
            Str(rules, rule.Id);
            Str(rules, rule.Family);
            Str(rules, rule.Name);
            Str(rules, rule.Title);
            rules.Write7BitEncodedInt((int)rule.Severity);
            rules.Write7BitEncodedInt(rule.Verdict is { } verdict ? (int)verdict + 1 : 0);
            Str(rules, rule.Why);
            Str(rules, rule.Guidance);
            Strs(rules, rule.MustMatch);
            Strs(rules, rule.MustNotMatch);
            rules.Write7BitEncodedInt((int)rule.Kind);
            Strs(rules, rule.Patterns);
            rules.Write7BitEncodedInt(rule.ErrorKinds.Count);
            foreach (var kind in rule.ErrorKinds)
            {
                rules.Write7BitEncodedInt((int)kind);
            }
        }

        var allowlists = ProfileNames.Concrete.Select(catalog.GetAllowlist).ToArray();
        rules.Write7BitEncodedInt(allowlists.Length);
        foreach (var list in allowlists)
        {
            rules.Write7BitEncodedInt((int)list.Profile);
            Str(rules, list.Description);
            Str(rules, list.Source);
            Strs(rules, list.Patterns.Select(p => p.Text).ToArray());
            Strs(rules, list.GetattrTargets.Order(StringComparer.Ordinal).ToArray());
        }

        Strs(derived, catalog.Derived.Sources);
        var callables = catalog.Derived.All.OrderBy(c => c.Name, StringComparer.Ordinal).ToArray();
        derived.Write7BitEncodedInt(callables.Length);
        foreach (var c in callables)
        {
            Str(derived, c.Name);
            Str(derived, c.Category);
            Str(derived, c.RuleId);
            Strs(derived, c.Path);
            Strs(derived, c.Parameters);
            derived.Write7BitEncodedInt(c.NestedArgument is { } nested ? nested + 1 : 0);
            Str(derived, c.Source);
        }

        using var body = new MemoryStream();
        using var w = new BinaryWriter(body, Encoding.UTF8);
        w.Write7BitEncodedInt(table.Count);
        foreach (var s in table)
        {
            w.Write(s);
        }

        var rulesBytes = ((MemoryStream)rules.BaseStream).ToArray();
        w.Write7BitEncodedInt(rulesBytes.Length);
        w.Write(rulesBytes);
        w.Write(((MemoryStream)derived.BaseStream).ToArray());
        w.Flush();

        using var output = new MemoryStream();
        using var header = new BinaryWriter(output, Encoding.UTF8);
        header.Write(Magic);
        header.Write7BitEncodedInt(FormatVersion);
        header.Write(fingerprint);
        header.Write(Checksum(body.ToArray()));
        header.Write(body.ToArray());
        header.Flush();
        return output.ToArray();
    }

    /// <summary>The parts of a snapshot: its string table and where its two sections start.</summary>
    internal sealed record Parsed(string[] Strings, ReadOnlyMemory<byte> Rules, ReadOnlyMemory<byte> Derived);

    /// <summary>Splits a snapshot into its parts; null when it is not one of this version or its fingerprint differs.</summary>
    internal static Parsed? Parse(ReadOnlyMemory<byte> snapshot, ulong fingerprint)
    {
        if (snapshot.Length < Magic.Length + 1 + (2 * sizeof(ulong)))
        {
            return null;
        }

        var r = new Reader(snapshot);
        if (!r.Bytes(Magic.Length).Span.SequenceEqual(Magic) || r.Int() != FormatVersion || r.UInt64() != fingerprint || r.UInt64() != Checksum(r.Rest().Span))
        {
            return null;
        }

        var strings = new string[r.Int()];
        for (var i = 0; i < strings.Length; i++)
        {
            strings[i] = r.String();
        }

        var rules = r.Bytes(r.Int());
        return new Parsed(strings, rules, r.Rest());
    }

    internal static RuleCatalog ReadCatalog(Parsed snapshot, DerivedCallables derived)
    {
        var r = new Reader(snapshot.Rules, snapshot.Strings);
        var attributePathModules = r.Strs();
        var rules = new Rule[r.Int()];
        for (var i = 0; i < rules.Length; i++)
        {
            var definition = new RuleDefinition
            {
                Id = r.Str(),
                Family = r.Str(),
                Name = r.Str(),
                Title = r.Str(),
                Severity = (Severity)r.Int(),
                Verdict = r.Int() is var verdict and > 0 ? (Verdict)(verdict - 1) : null,
                Why = r.Str(),
                Guidance = r.Str(),
                MustMatch = r.Strs(),
                MustNotMatch = r.Strs(),
            };
            var kind = (RuleKind)r.Int();
            var patterns = r.Strs();
            var errorKinds = new InputErrorKind[r.Int()];
            for (var k = 0; k < errorKinds.Length; k++)
            {
                errorKinds[k] = (InputErrorKind)r.Int();
            }

            rules[i] = new Rule(definition, kind, patterns, errorKinds);
        }

        var allowlists = new Allowlist[r.Int()];
        for (var i = 0; i < allowlists.Length; i++)
        {
            var profile = (PolicyProfile)r.Int();
            var description = r.Str();
            var source = r.Str();
            var patterns = r.Strs().Select(GlobalPattern.Parse).ToArray();
            allowlists[i] = new Allowlist(profile, description, source, patterns, r.Strs());
        }

        return RuleCatalog.FromParts(rules, allowlists, attributePathModules, derived);
    }

    internal static DerivedCallables ReadDerived(Parsed snapshot)
    {
        var r = new Reader(snapshot.Derived, snapshot.Strings);
        var sources = r.Strs();
        var callables = new DerivedCallable[r.Int()];
        for (var i = 0; i < callables.Length; i++)
        {
            callables[i] = new DerivedCallable(r.Str(), r.Str(), r.Str(), r.Strs(), r.Strs(), r.Int() is var nested and > 0 ? nested - 1 : null, r.Str());
        }

        return DerivedCallables.FromEntries(callables, sources);
    }

    private static Parsed? ParseEmbedded()
    {
        var assembly = typeof(CatalogSnapshot).Assembly;
        return assembly.GetManifestResourceInfo(ResourceName) is null ? null : Parse(ReadResource(assembly, ResourceName), EmbeddedFingerprint());
    }

    private static byte[] ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw MalformedInputException.Create(InputErrorKind.Config, $"embedded resource {name} is missing");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Reads a snapshot the writer made (the data is this assembly's own: a malformed one is a build defect, surfacing as an exception).</summary>
    private struct Reader(ReadOnlyMemory<byte> data, string[]? strings = null)
    {
        private int _pos;

        public int Int()
        {
            var result = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = data.Span[_pos++];
                result |= (b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return result;
                }
            }
        }

        public ulong UInt64()
        {
            var value = BinaryPrimitives.ReadUInt64LittleEndian(data.Span[_pos..]);
            _pos += sizeof(ulong);
            return value;
        }

        public ReadOnlyMemory<byte> Bytes(int count)
        {
            var bytes = data.Slice(_pos, count);
            _pos += count;
            return bytes;
        }

        public ReadOnlyMemory<byte> Rest() => data[_pos..];

        public string String() => Encoding.UTF8.GetString(Bytes(Int()).Span);

        public string Str() => strings![Int()];

        public string[] Strs()
        {
            var values = new string[Int()];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = Str();
            }

            return values;
        }
    }
}
