namespace TrainGuard.Scanning.Policy;

/// <summary>Every rule id in the catalogue, as constants. Each has a page at <c>docs/rules/&lt;id&gt;.md</c>.</summary>
public static class RuleIds
{
    // Dangerous pickle globals (kind: global).

    /// <summary>Process execution: <c>os.system</c>, <c>subprocess.*</c>, <c>pty.spawn</c>...</summary>
    public const string ProcessExecution = "TG-PKL-001";

    /// <summary>Code execution: <c>builtins.eval/exec/compile</c>, <c>types.CodeType</c>, <c>marshal</c>, <c>ctypes</c>...</summary>
    public const string CodeExecution = "TG-PKL-002";

    /// <summary>Import machinery: <c>builtins.__import__</c>, <c>importlib.*</c>, <c>sys.modules</c>...</summary>
    public const string ImportMachinery = "TG-PKL-003";

    /// <summary>Dynamic attribute access / payload assembly: <c>builtins.getattr</c>, <c>operator.attrgetter</c>, <c>functools.partial</c>...</summary>
    public const string DynamicAccess = "TG-PKL-004";

    /// <summary>Nested deserialisation: <c>pickle.loads</c>, <c>torch.load</c>, <c>yaml.unsafe_load</c>...</summary>
    public const string NestedDeserialization = "TG-PKL-005";

    /// <summary>File-system tampering: <c>builtins.open</c>, <c>shutil.rmtree</c>, <c>os.remove</c>...</summary>
    public const string FileSystemTampering = "TG-PKL-006";

    /// <summary>Network access: <c>socket.*</c>, <c>urllib.*</c>, <c>requests.*</c>...</summary>
    public const string NetworkAccess = "TG-PKL-007";

    /// <summary>Sabotage and timing: <c>time.sleep</c>, <c>os.kill</c>, <c>signal.*</c>, <c>threading.*</c>...</summary>
    public const string Sabotage = "TG-PKL-008";

    /// <summary>Package and environment tampering: <c>pip.*</c>, <c>site.*</c>, <c>os.environ</c>, <c>sys.path</c>...</summary>
    public const string EnvironmentTampering = "TG-PKL-009";

    /// <summary>Training-runtime manipulation: <c>torch.manual_seed</c>, <c>torch.set_*</c>, <c>torch.optim.*</c>...</summary>
    public const string RuntimeManipulation = "TG-PKL-010";

    /// <summary>Any other global from the OS or interpreter modules (<c>os.*</c>, <c>posix.*</c>, <c>nt.*</c>, <c>sys.*</c>).</summary>
    public const string SystemModule = "TG-PKL-011";

    /// <summary>BUILD or SETITEM(S) into an imported class, function, module or shared object (registries, sys.modules).</summary>
    public const string GlobalStateMutation = "TG-PKL-012";

    /// <summary>Python source a load compiles and runs (torch.fx GraphModule code) whose calls are not known to be dangerous.</summary>
    public const string EmbeddedCode = "TG-PKL-013";

    // Structural pickle findings (kind: pickle).

    /// <summary>A global that is neither allowlisted for the profile nor known to be dangerous (default deny).</summary>
    public const string UnknownGlobal = "TG-PKL-100";

    /// <summary>Data after the last STOP (pickles) or after the array data (numpy): where payloads hide.</summary>
    public const string TrailingData = "TG-PKL-101";

    /// <summary>A pickle inside a pickle; its contents are evaluated as a member of its own.</summary>
    public const string NestedPickle = "TG-PKL-102";

    /// <summary>A call whose callable cannot be resolved statically, built from non-allowlisted globals.</summary>
    public const string DynamicCall = "TG-PKL-103";

    /// <summary>A call of a computed value built only from allowlisted globals: no ordinary pickler writes that.</summary>
    public const string ComputedCall = "TG-PKL-104";

    /// <summary>A known-dangerous global the operator allowed by its exact name (informational).</summary>
    public const string AllowedDangerousGlobal = "TG-PKL-105";

    // Format and container findings (kind: format), reported by the scanner.

    /// <summary>Malformed or unparseable input (verdict error).</summary>
    public const string Malformed = "TG-FMT-001";

    /// <summary>A size, count, depth or time limit was exceeded (verdict error).</summary>
    public const string LimitExceeded = "TG-FMT-002";

    /// <summary>A zip entry's local header disagrees with its central-directory record.</summary>
    public const string ZipHeaderMismatch = "TG-FMT-003";

    /// <summary>Hidden, overlapping or duplicate zip entries.</summary>
    public const string ZipHiddenEntries = "TG-FMT-004";

    /// <summary>An invalid safetensors header (verdict error).</summary>
    public const string InvalidSafetensors = "TG-FMT-005";

    /// <summary>A model-like file extension with content TrainGuard does not recognise (verdict error).</summary>
    public const string UnrecognisedModelFile = "TG-FMT-006";

    /// <summary>An encrypted member, or one compressed with a method TrainGuard does not read (verdict error).</summary>
    public const string UnsupportedMember = "TG-FMT-007";

    /// <summary>TorchScript code (<c>code/</c> Python files) in a torch archive (informational).</summary>
    public const string TorchScriptCode = "TG-FMT-008";

    /// <summary>A compressed container (gzip, xz, bzip2, zstd...) that is not analysed (verdict error).</summary>
    public const string UnsupportedContainer = "TG-FMT-009";

    /// <summary>More pickles in one buffer than the format expects.</summary>
    public const string UnexpectedPickleSequence = "TG-FMT-010";

    /// <summary>A member or stream is damaged (bad CRC, sizes that disagree, corrupt compressed data) in a way the real loader reads past; what it reads was analysed.</summary>
    public const string DamagedContainer = "TG-FMT-011";

    /// <summary>A checkpoint the loader cannot use as declared: no data.pkl, a storage shorter than its tensors need, a tensor outside its storage.</summary>
    public const string BrokenCheckpoint = "TG-FMT-012";
}
