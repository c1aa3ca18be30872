namespace TrainGuard.Review.Parsing;

/// <summary>Parses Python source into the reduced tree the analyzer reads. An instance is used by one thread at a time.</summary>
public interface IPythonParser : IDisposable
{
    /// <summary><c>tree-sitter</c> or <c>python-ast</c>.</summary>
    string Name { get; }

    /// <summary>Parses one file's bytes (UTF-8, as stored in git). Never runs them.</summary>
    PythonParse Parse(byte[] source);
}

/// <summary>
/// The tree of one file, or why there is none. <see cref="HasErrors"/>: the parser recovered from syntax errors (tree-sitter
/// keeps what it could read: Python 2 statements, conflict markers); <see cref="Error"/>: no tree at all.
/// </summary>
public sealed record PythonParse(PyNode? Tree, bool HasErrors, string? Error, int? ErrorLine, string Parser);
