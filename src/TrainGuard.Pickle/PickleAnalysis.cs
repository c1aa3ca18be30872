using TrainGuard.Parsing;

namespace TrainGuard.Pickle;

/// <summary>An import a load would perform: <c>GLOBAL</c>, <c>STACK_GLOBAL</c>, <c>INST</c>, or an <c>EXT*</c> registry code.</summary>
/// <param name="Module">The module name as the pickle spells it (after protocol-2 name mapping for Python 2 names).</param>
/// <param name="Name">The attribute name, possibly dotted (<c>os.path.join</c> style nested lookups).</param>
/// <param name="Offset">Offset of the opcode that performs the import, relative to the start of the analysed buffer.</param>
/// <param name="Opcode">The opcode name, e.g. <c>STACK_GLOBAL</c>.</param>
public sealed record PickleGlobal(string Module, string Name, long Offset, string Opcode)
{
    public string FullName => $"{Module}.{Name}";

    /// <summary>
    /// What the import really resolves to when the pickle itself changed it before (a <c>BUILD</c> that stored a
    /// value into a module's or class's state, a <c>sys.modules</c> entry it set), e.g. <c>posixpath.os.system</c>
    /// for <c>mylib.alias.system</c>; null when the import is what it says.
    /// </summary>
    public string? Target { get; init; }

    /// <summary>How <see cref="Target"/> came about, for explanations: <c>mylib.alias was set by BUILD at offset 0x1f</c>.</summary>
    public string? Via { get; init; }

    /// <summary>The name a policy judges: <see cref="Target"/> when the pickle redirected the import, else <see cref="FullName"/>.</summary>
    public string EffectiveName => Target ?? FullName;
}

/// <summary>
/// A call a load would make: <c>REDUCE</c>, <c>NEWOBJ</c>, <c>NEWOBJ_EX</c>, <c>INST</c>, <c>OBJ</c>, or
/// <c>BUILD</c> (which calls <c>__setstate__</c> or sets attributes on the object).
/// </summary>
/// <param name="Callable">The callable rendered as Python source, e.g. <c>os.system</c> or <c>getattr(importlib.import_module('os'), 'system')</c>.</param>
/// <param name="ResolvedGlobal">The <c>module.name</c> the callable statically resolves to, when it does (e.g. <c>os.system</c> for the getattr form above).</param>
/// <param name="Rendered">The whole call rendered as Python source, arguments included and shortened: <c>os.system('echo pwned')</c>.</param>
/// <param name="Opcode">The opcode that performs the call.</param>
/// <param name="Offset">Offset of that opcode in the analysed buffer.</param>
/// <param name="Globals">Every global the callable and its arguments are built from (for policy: a dangerous global used as an argument).</param>
public sealed record PickleCall(string Callable, string? ResolvedGlobal, string Rendered, string Opcode, long Offset, IReadOnlyList<PickleGlobal> Globals)
{
    /// <summary>
    /// The imported class, function, module or shared object whose state this opcode changes (<c>BUILD</c> on an
    /// import, <c>SETITEM(S)</c>/<c>APPEND(S)</c> into one, e.g. <c>copyreg._inverted_registry</c>); null for
    /// objects the pickle built itself.
    /// </summary>
    public string? Mutates { get; init; }

    /// <summary>
    /// Python source the call compiles and runs, rebuilt from its arguments (a torch.fx <c>GraphModule</c>: its
    /// import block and generated <c>forward</c>, which <c>reduce_graph_module</c> <c>exec</c>s at load); null otherwise.
    /// </summary>
    public string? Code { get; init; }
}

/// <summary>A persistent id (<c>PERSID</c>/<c>BINPERSID</c>): torch storages are <c>('storage', torch.FloatStorage, key, 'cpu', numel)</c>.</summary>
public sealed record PicklePersistentId(long Offset, string Rendered, IReadOnlyList<string> Parts);

/// <summary>
/// What a load of one buffer would do, found without executing anything. When parsing stopped early
/// (<see cref="Error"/> set) everything seen up to that point is still here, so a payload in front of a
/// truncation is reported.
/// </summary>
public sealed class PickleAnalysis
{
    /// <summary>Every import, in the order a load would perform them.</summary>
    public List<PickleGlobal> Globals { get; } = [];

    /// <summary>Every call, in the order a load would make them.</summary>
    public List<PickleCall> Calls { get; } = [];

    /// <summary>Pickles found inside this one (bytes passed to <c>pickle.loads</c> and friends, joblib inline pickles), analysed recursively.</summary>
    public List<NestedPickle> Nested { get; } = [];

    public List<PicklePersistentId> PersistentIds { get; } = [];

    /// <summary>How many complete pickles (each ending in STOP) were read, one after another.</summary>
    public int PickleCount { get; set; }

    /// <summary>Highest protocol announced by a PROTO opcode (0 when none).</summary>
    public int Protocol { get; set; }

    public long OpcodeCount { get; set; }

    /// <summary>Offset just past the last STOP read.</summary>
    public long EndOffset { get; set; }

    /// <summary>Offset of bytes after the last complete pickle that are not themselves a pickle, when any remain.</summary>
    public long? TrailingDataOffset { get; set; }

    /// <summary>Set when parsing stopped on malformed input or a limit.</summary>
    public MalformedInputException? Error { get; set; }
}

/// <summary>A pickle inside a pickle, with its own analysis. Offsets in <see cref="Analysis"/> are relative to <see cref="Offset"/>.</summary>
/// <param name="Offset">Where the nested pickle's bytes start: the opcode that pushed them, or the inline position.</param>
/// <param name="Via">How it would be loaded, e.g. <c>pickle.loads</c> or <c>joblib inline</c>.</param>
public sealed record NestedPickle(long Offset, string Via, PickleAnalysis Analysis);
