namespace TrainGuard.Parsing;

/// <summary>
/// What was wrong with an input, decided where the error is thrown. Rules and verdicts are chosen from the
/// kind (see the <c>errors</c> lists of the format rules), never from the wording of the message.
/// </summary>
public enum InputErrorKind
{
    /// <summary>The bytes or text do not follow the format's grammar (bad opcode, bad JSON, wrong field type).</summary>
    Syntax,

    /// <summary>The input ends before a structure it declares (a length past the end, a missing terminator).</summary>
    Truncated,

    /// <summary>Well-formed pieces that contradict each other (checksum or size mismatch, overlapping or duplicate data).</summary>
    Corrupt,

    /// <summary>Not malformed as such, but over a configured size, count, depth or time limit.</summary>
    OverLimit,

    /// <summary>Valid, but uses a version, method or feature TrainGuard does not read.</summary>
    Unsupported,

    /// <summary>Encrypted content that cannot be inspected.</summary>
    Encrypted,

    /// <summary>A configuration, rule or policy file (or option value) a person wrote is invalid; the error names file and line.</summary>
    Config,

    /// <summary>
    /// The parser itself failed on this input (a bug); the input is reported as unparsed, never clean. Fuzz
    /// targets turn it back into the original exception so the fuzzer sees the bug.
    /// </summary>
    Internal,
}
