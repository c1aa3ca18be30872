using System.Runtime.InteropServices;

namespace TrainGuard.Review.Parsing;

/// <summary>
/// P/Invoke to the tree-sitter runtime and the tree-sitter-python grammar, compiled by the build from the vendored C
/// sources (<c>Native/</c>, see its PROVENANCE.md) into <see cref="LibraryFileName"/> beside the assembly. The library is
/// loaded by that path only (never from the system's search path).
/// </summary>
internal static partial class TreeSitterNative
{
    public const string LibraryName = "trainguard-tree-sitter-python";

    public const string LibraryFileName = "libtrainguard-tree-sitter-python.so";

    private static readonly Lazy<string?> LoadProblem = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Null when the library is loaded; otherwise why it could not be.</summary>
    public static string? Problem => LoadProblem.Value;

    [StructLayout(LayoutKind.Sequential)]
    public struct TSNode
    {
        public uint Context0;
        public uint Context1;
        public uint Context2;
        public uint Context3;
        public IntPtr Id;
        public IntPtr Tree;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TSPoint
    {
        public uint Row;
        public uint Column;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TSTreeCursor
    {
        public IntPtr Tree;
        public IntPtr Id;
        public uint Context0;
        public uint Context1;
        public uint Context2;
    }

    [LibraryImport(LibraryName)]
    public static partial IntPtr tree_sitter_python();

    [LibraryImport(LibraryName)]
    public static partial IntPtr ts_parser_new();

    [LibraryImport(LibraryName)]
    public static partial void ts_parser_delete(IntPtr parser);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_parser_set_language(IntPtr parser, IntPtr language);

    [LibraryImport(LibraryName)]
    public static partial IntPtr ts_parser_parse_string(IntPtr parser, IntPtr oldTree, byte[] source, uint length);

    [LibraryImport(LibraryName)]
    public static partial void ts_tree_delete(IntPtr tree);

    [LibraryImport(LibraryName)]
    public static partial TSNode ts_tree_root_node(IntPtr tree);

    [LibraryImport(LibraryName)]
    public static partial ushort ts_node_symbol(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial IntPtr ts_node_type(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial uint ts_node_start_byte(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial uint ts_node_end_byte(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial TSPoint ts_node_start_point(TSNode node);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_node_is_named(TSNode node);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_node_has_error(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial TSTreeCursor ts_tree_cursor_new(TSNode node);

    [LibraryImport(LibraryName)]
    public static partial void ts_tree_cursor_delete(ref TSTreeCursor cursor);

    [LibraryImport(LibraryName)]
    public static partial TSNode ts_tree_cursor_current_node(ref TSTreeCursor cursor);

    [LibraryImport(LibraryName)]
    public static partial IntPtr ts_tree_cursor_current_field_name(ref TSTreeCursor cursor);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_tree_cursor_goto_first_child(ref TSTreeCursor cursor);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_tree_cursor_goto_next_sibling(ref TSTreeCursor cursor);

    [LibraryImport(LibraryName)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ts_tree_cursor_goto_parent(ref TSTreeCursor cursor);

    private static string? Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, LibraryFileName);
        if (!File.Exists(path))
        {
            var beside = Path.GetDirectoryName(typeof(TreeSitterNative).Assembly.Location);
            path = string.IsNullOrEmpty(beside) ? path : Path.Combine(beside, LibraryFileName);
        }

        if (!File.Exists(path))
        {
            return $"{LibraryFileName} was not built (no C compiler when TrainGuard was built?)";
        }

        if (!NativeLibrary.TryLoad(path, out var handle))
        {
            return $"{path} could not be loaded";
        }

        try
        {
            NativeLibrary.SetDllImportResolver(typeof(TreeSitterNative).Assembly, (name, _, _) => name == LibraryName ? handle : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // A resolver is already set (a second load in the same process): it resolves the same handle.
        }

        return NativeLibrary.TryGetExport(handle, "tree_sitter_python", out _) ? null : $"{path} has no tree_sitter_python";
    }
}
