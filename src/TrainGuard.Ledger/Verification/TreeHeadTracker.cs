using System.Security.Cryptography;
using System.Text;
using TrainGuard.Ledger.Client;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Verification;

/// <summary>Fetches an RFC 9162 consistency proof between two tree sizes (the server's <c>/api/v1/proof/consistency</c>).</summary>
public delegate Task<byte[][]> ConsistencyProofSource(long fromSize, long toSize, CancellationToken cancellationToken);

/// <summary>How a new signed tree head relates to the one a client kept.</summary>
public enum TreeHeadChange
{
    /// <summary>Nothing was kept yet: the new head is validly signed and is now kept (trust on first use).</summary>
    FirstUse,

    /// <summary>The same size and root as the kept head.</summary>
    Unchanged,

    /// <summary>Larger, and a consistency proof from the kept head verified: the log only grew.</summary>
    Grew,

    /// <summary>Not signed by the pinned key, of another origin, or malformed: it says nothing.</summary>
    Untrusted,

    /// <summary>Smaller than the kept head: entries were cut from the end of the log (a rollback).</summary>
    RolledBack,

    /// <summary>The same size with another root, or a larger tree that does not extend the kept one: a split view.</summary>
    SplitView,
}

/// <summary>
/// The outcome of <see cref="TreeHeadTracker.AdvanceAsync"/>: how the new head relates to the kept one, with both
/// notes as they were signed (the evidence of a rollback or a split view: two heads signed by the same key that
/// cannot both be true).
/// </summary>
public sealed record TreeHeadAdvance(TreeHeadChange Change, string NewNote, TreeHead? New, string? KeptNote, TreeHead? Kept, string? Problem)
{
    /// <summary>True when the new head verified and is consistent with the kept one (it is now the kept head).</summary>
    public bool IsConsistent => Change is TreeHeadChange.FirstUse or TreeHeadChange.Unchanged or TreeHeadChange.Grew;

    /// <summary>True when the two heads prove the log misbehaved (both are signed by the log key).</summary>
    public bool IsEvidence => Change is TreeHeadChange.RolledBack or TreeHeadChange.SplitView;
}

/// <summary>
/// Keeps the last signed tree head a client verified, in one file, and moves it forward only along a consistent
/// history: a new head must be signed by the pinned log key, carry the kept head's origin, and either equal the
/// kept head or extend it (an RFC 9162 consistency proof from the kept size verifies). A smaller head is a rollback,
/// another root at the same size or a failing proof a split view; both leave the kept head in place and hand back
/// the two conflicting heads. The file is the signed note itself (the format of <c>ledger verify --tree-head</c>),
/// replaced atomically. No database and no network of its own: proofs come from the caller.
/// </summary>
public sealed class TreeHeadTracker
{
    /// <summary>File name suffix of kept tree heads in a state directory.</summary>
    public const string FileSuffix = ".tree-head";

    private const int MaxEscapedOriginLength = 120;

    private TreeHeadTracker(string stateFile, NoteVerifier logKey, string? keptNote, TreeHead? kept)
    {
        StateFile = stateFile;
        LogKey = logKey;
        KeptNote = keptNote;
        Kept = kept;
    }

    /// <summary>Where the kept head lives.</summary>
    public string StateFile { get; }

    /// <summary>The pinned log key every head must be signed with.</summary>
    public NoteVerifier LogKey { get; }

    /// <summary>The kept signed tree head note, or null before the first one.</summary>
    public string? KeptNote { get; private set; }

    /// <summary>The kept tree head, or null before the first one.</summary>
    public TreeHead? Kept { get; private set; }

    /// <summary>
    /// Opens the tracker whose head is kept in <paramref name="stateFile"/> (created on the first advance). A file that
    /// is there but not a tree head signed by <paramref name="logKey"/> throws <see cref="MalformedInputException"/>
    /// naming it: a client never silently starts over.
    /// </summary>
    public static TreeHeadTracker Open(string stateFile, NoteVerifier logKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateFile);
        ArgumentNullException.ThrowIfNull(logKey);
        if (!File.Exists(stateFile))
        {
            return new TreeHeadTracker(stateFile, logKey, null, null);
        }

        var note = ReadKept(stateFile);
        SignedTreeHead kept;
        try
        {
            kept = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(note), [logKey]);
        }
        catch (MalformedInputException ex)
        {
            return MalformedInputException.Throw<TreeHeadTracker>(ex.Kind, $"{stateFile}: the kept tree head is malformed: {ex.Message}", ex.Offset ?? 0);
        }

        if (!kept.Verification.IsVerified)
        {
            MalformedInputException.Throw(InputErrorKind.Corrupt, $"{stateFile}: the kept tree head is not signed by {logKey.Name}+{logKey.KeyId:x8} ({kept.Verification.Problem}); it was changed, or belongs to another log key", 0);
        }

        return new TreeHeadTracker(stateFile, logKey, note, kept.TreeHead);
    }

    /// <summary>
    /// The tracker for the log <paramref name="origin"/> signed by <paramref name="logKey"/> under
    /// <paramref name="stateDirectory"/>: one file per origin and key (<see cref="FileFor"/>), so one directory serves
    /// every log a client talks to, and two servers of one log share it (a split view between them is caught).
    /// </summary>
    public static TreeHeadTracker ForLog(string stateDirectory, NoteVerifier logKey, string origin) =>
        Open(FileFor(stateDirectory, logKey, origin), logKey);

    /// <summary>
    /// Checks <paramref name="newNote"/> against the head kept for its log (the origin its signed text names) under
    /// <paramref name="stateDirectory"/> and keeps it when consistent. A head that is malformed or not signed by
    /// <paramref name="logKey"/> names no trustworthy origin: it is <see cref="TreeHeadChange.Untrusted"/>, no state
    /// file is touched, and the returned state file is null.
    /// </summary>
    public static async Task<(TreeHeadAdvance Advance, string? StateFile)> AdvanceInDirectoryAsync(string stateDirectory, NoteVerifier logKey, string newNote, ConsistencyProofSource proofs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newNote);
        string? origin = null;
        try
        {
            var opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(newNote), [logKey]);
            origin = opened.Verification.IsVerified ? opened.TreeHead.Origin : null;
        }
        catch (MalformedInputException)
        {
            // Reported as untrusted below.
        }

        if (origin is null)
        {
            return (await CompareAsync(null, null, newNote, logKey, proofs, cancellationToken), null);
        }

        var tracker = ForLog(stateDirectory, logKey, origin);
        return (await tracker.AdvanceAsync(newNote, proofs, cancellationToken), tracker.StateFile);
    }

    /// <summary>
    /// <c>&lt;dir&gt;/&lt;origin, percent-escaped&gt;+&lt;key ID&gt;.tree-head</c>; an origin too long for a file name
    /// is cut and followed by a hash of the whole.
    /// </summary>
    public static string FileFor(string stateDirectory, NoteVerifier logKey, string origin)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        ArgumentNullException.ThrowIfNull(logKey);
        ArgumentNullException.ThrowIfNull(origin);
        var escaped = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(origin))
        {
            if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_' || (b == (byte)'.' && escaped.Length > 0))
            {
                escaped.Append((char)b);
            }
            else
            {
                escaped.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        var name = escaped.ToString();
        if (name.Length > MaxEscapedOriginLength)
        {
            name = name[..(MaxEscapedOriginLength - 17)] + "~" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(origin)))[..16];
        }

        return Path.Combine(stateDirectory, $"{name}+{logKey.KeyId:x8}{FileSuffix}");
    }

    /// <summary>
    /// Checks <paramref name="newNote"/> against the kept head and keeps it when it is consistent (written to
    /// <see cref="StateFile"/> before this returns). Never throws for what the server sent: a malformed or unsigned
    /// head is <see cref="TreeHeadChange.Untrusted"/>.
    /// </summary>
    /// <exception cref="TrainGuardApiException">The consistency proof could not be fetched.</exception>
    /// <exception cref="MalformedInputException">The consistency proof answer is not what a TrainGuard server sends.</exception>
    /// <exception cref="IOException">The state file could not be written.</exception>
    public async Task<TreeHeadAdvance> AdvanceAsync(string newNote, ConsistencyProofSource proofs, CancellationToken cancellationToken = default)
    {
        var advance = await CompareAsync(KeptNote, Kept, newNote, LogKey, proofs, cancellationToken);
        if (advance.Change is TreeHeadChange.FirstUse or TreeHeadChange.Grew)
        {
            Keep(advance.NewNote, advance.New!);
        }

        return advance;
    }

    /// <summary>Advances with proofs from <paramref name="server"/>'s <c>/api/v1/proof/consistency</c>.</summary>
    public Task<TreeHeadAdvance> AdvanceAsync(string newNote, TrainGuardApiClient server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return AdvanceAsync(newNote, server.GetConsistencyProofAsync, cancellationToken);
    }

    /// <summary>
    /// How <paramref name="newNote"/> relates to <paramref name="keptNote"/> (null: nothing kept), both to be signed by
    /// <paramref name="logKey"/>; fetches a consistency proof only when the new head is larger. Keeps nothing.
    /// </summary>
    public static async Task<TreeHeadAdvance> CompareAsync(string? keptNote, TreeHead? kept, string newNote, NoteVerifier logKey, ConsistencyProofSource proofs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newNote);
        ArgumentNullException.ThrowIfNull(logKey);
        ArgumentNullException.ThrowIfNull(proofs);
        SignedTreeHead opened;
        try
        {
            opened = TreeHead.OpenSigned(Encoding.UTF8.GetBytes(newNote), [logKey], kept?.Origin);
        }
        catch (MalformedInputException ex)
        {
            return Result(TreeHeadChange.Untrusted, null, $"the tree head is malformed: {ex.Message}");
        }

        var current = opened.TreeHead;
        if (!opened.Verification.IsVerified)
        {
            return Result(TreeHeadChange.Untrusted, current, $"the tree head is not signed by {logKey.Name}+{logKey.KeyId:x8}: {opened.Verification.Problem}");
        }

        if (!opened.OriginMatches)
        {
            return Result(TreeHeadChange.Untrusted, current, $"the tree head's origin is '{current.Origin}', not '{kept!.Origin}'");
        }

        if (kept is null)
        {
            return Result(TreeHeadChange.FirstUse, current, null);
        }

        if (current.Size < kept.Size)
        {
            return Result(TreeHeadChange.RolledBack, current, $"the log shrank from {kept.Size} to {current.Size} entries: the newest {kept.Size - current.Size} were cut (a rollback)");
        }

        if (current.Size == kept.Size)
        {
            return MerkleHash.FixedTimeEquals(current.RootHash, kept.RootHash)
                ? Result(TreeHeadChange.Unchanged, current, null)
                : Result(TreeHeadChange.SplitView, current, $"two signed tree heads of size {kept.Size} have different roots (a split view)");
        }

        if (kept.Size > 0)
        {
            var proof = await proofs(kept.Size, current.Size, cancellationToken);
            if (!MerkleTree.VerifyConsistency((ulong)kept.Size, (ulong)current.Size, proof, kept.RootHash, current.RootHash))
            {
                return Result(TreeHeadChange.SplitView, current, $"the consistency proof from size {kept.Size} to {current.Size} does not verify: the tree at {current.Size} does not extend the kept one (history was rewritten, or a split view)");
            }
        }

        return Result(TreeHeadChange.Grew, current, null);

        TreeHeadAdvance Result(TreeHeadChange change, TreeHead? head, string? problem) => new(change, newNote, head, keptNote, kept, problem);
    }

    private static string ReadKept(string stateFile)
    {
        var info = new FileInfo(stateFile);
        if (info.Length > SignedNote.MaxMessageBytes)
        {
            MalformedInputException.ThrowLimit($"{stateFile}: the kept tree head", SignedNote.MaxMessageBytes, 0);
        }

        return File.ReadAllText(stateFile, new UTF8Encoding(false, throwOnInvalidBytes: true));
    }

    /// <summary>Writes the head next to the state file, flushes it to disk and renames it over the state file.</summary>
    private void Keep(string note, TreeHead head)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(StateFile))!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var temp = $"{StateFile}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var bytes = Encoding.UTF8.GetBytes(note);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, StateFile, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        KeptNote = note;
        Kept = head;
    }
}
