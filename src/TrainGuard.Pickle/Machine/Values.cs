using System.Runtime.CompilerServices;

namespace TrainGuard.Pickle.Machine;

/// <summary>What a symbolic value is. Stored in the top 5 bits of a <see cref="V"/> word.</summary>
internal enum ValKind : byte
{
    /// <summary>No value: an empty memo slot. Never on the stack.</summary>
    Empty = 0,
    None,
    Bool,
    /// <summary>An int small enough to live in the word (59-bit two's complement).</summary>
    Int,
    /// <summary>A larger int; payload is the offset of the opcode that pushed it (re-read lazily).</summary>
    BigInt,
    /// <summary>Payload is the opcode offset (FLOAT or BINFLOAT).</summary>
    Float,
    /// <summary>Payload is the opcode offset of any string opcode (decoded lazily).</summary>
    Str,
    Bytes,
    ByteArray,
    Tuple,
    List,
    Dict,
    Set,
    FrozenSet,
    Global,
    /// <summary>The result of a call (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ).</summary>
    Call,
    PersistentLoad,
    /// <summary>An out-of-band buffer (NEXT_BUFFER); payload is its ordinal.</summary>
    Buffer,
    /// <summary>A value only the loader knows (a joblib array read from the stream).</summary>
    Opaque,
}

/// <summary>
/// A symbolic value packed in one 64-bit word: kind in the top 5 bits, payload below. Scalars read from the
/// input keep only the offset of the opcode that pushed them; containers keep a node id (<see cref="ObjectStore"/>);
/// imports, calls and persistent loads keep the index of their record.
/// </summary>
internal static class V
{
    public const int KindShift = 59;
    public const ulong PayloadMask = (1UL << KindShift) - 1;
    public const long MaxSmallInt = (1L << 58) - 1;
    public const long MinSmallInt = -(1L << 58);

    // Constants, not static readonly fields: the opcode loop pushes them without a class-initialisation check.
    public const ulong None = (ulong)ValKind.None << KindShift;
    public const ulong True = ((ulong)ValKind.Bool << KindShift) | 1;
    public const ulong False = (ulong)ValKind.Bool << KindShift;

    /// <summary>The shared empty tuple (node 0).</summary>
    public const ulong EmptyTuple = (ulong)ValKind.Tuple << KindShift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Make(ValKind kind, long payload) => ((ulong)kind << KindShift) | ((ulong)payload & PayloadMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Int(long value) => ((ulong)ValKind.Int << KindShift) | ((ulong)value & PayloadMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ValKind Kind(ulong v) => (ValKind)(v >> KindShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Node(ulong v) => (int)(v & PayloadMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Offset(ulong v) => (int)(v & PayloadMask);

    /// <summary>The small int's value, sign-extended from 59 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long IntValue(ulong v) => (long)(v << 5) >> 5;

    public static bool IsContainer(ValKind k) => k is ValKind.Tuple or ValKind.List or ValKind.Dict or ValKind.Set or ValKind.FrozenSet;

    /// <summary>Values a policy cares about wherever they end up: imports, call results, persistent loads, buffers.</summary>
    public static bool IsObject(ValKind k) => k is ValKind.Global or ValKind.Call or ValKind.PersistentLoad or ValKind.Buffer;
}

/// <summary>
/// A value in 32 bits, for the memo and inline children: 5-bit kind, 27-bit payload. Values that do not fit
/// (offsets past 128 MiB, negative or large ints) are kept in a side table, marked <see cref="Wide"/>.
/// </summary>
internal static class Packed
{
    public const uint Wide = uint.MaxValue;
    private const int PayloadBits = 27;
    private const uint PayloadMask = (1u << PayloadBits) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Pack(ulong v)
    {
        var payload = v & V.PayloadMask;
        return payload > PayloadMask ? Wide : (uint)((v >> V.KindShift) << PayloadBits) | (uint)payload;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Unpack(uint p) => ((ulong)(p >> PayloadBits) << V.KindShift) | (p & PayloadMask);
}

/// <summary>
/// A container (8 bytes). Containers keep their first child inline and up to
/// <see cref="ObjectStore.BlockChildren"/> more in a recycled block (see <see cref="ObjectStore"/>).
/// </summary>
internal struct Node
{
    /// <summary>First child, packed.</summary>
    public uint C0;

    /// <summary>
    /// Bits 0-4 kept children, 5-8 flags, 9-31 the child count (saturating) or, while the container owns a
    /// ring block (<see cref="FlagBlock"/>), the block (its count is then kept with the block).
    /// </summary>
    public uint Meta;

    public const uint KeptMask = 0x1f;
    public const uint FlagInteresting = 1u << 5;
    public const uint FlagTruncated = 1u << 6;
    public const uint FlagExtras = 1u << 7;
    public const uint FlagBlock = 1u << 8;
    public const int HighShift = 9;
    public const uint LowMask = (1u << HighShift) - 1;
    public const uint MaxCount = (1u << (32 - HighShift)) - 1;

    public readonly int Kept => (int)(Meta & KeptMask);

    public readonly bool Interesting => (Meta & FlagInteresting) != 0;

    public readonly bool Truncated => (Meta & FlagTruncated) != 0;
}
