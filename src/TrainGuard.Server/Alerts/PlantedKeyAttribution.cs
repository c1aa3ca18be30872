namespace TrainGuard.Server.Alerts;

/// <summary>
/// Puts the actions of an SSH session on the account that planted the session's key (docs/alerts.md, "Attribution
/// through a planted key"). A session opened with a key is logged under the account it logged in as; when the ledger
/// shows that another account wrote that account's <c>authorized_keys</c> before the login (an audit <c>file-*</c>
/// event by another login uid, or a snapshot's <c>ssh-key-added</c> whose audit join names the writer), and the key was
/// not used to log in to that account before the write, the session is the writer's: its events are evaluated with the
/// writer as actor (<c>attribution: planted-key</c>).
/// </summary>
/// <remarks>
/// The join needs three kinds of event that agents ship in no fixed order: sshd's <c>user-login</c> (phase
/// <c>authentication</c>: key fingerprint, sshd pid), the audit event that gives the sshd pid its audit session
/// (<c>loginuid-changed</c>, the audit <c>user-login</c>), and the key file's write. Whichever comes last resolves the
/// session; the session's events seen before that are handed back to be evaluated again as the planter's. State is
/// bounded (sessions, buffered events, key history) and pruned by event time, never by the wall clock, so a replay of
/// the same ledger resolves the same sessions.
/// </remarks>
public sealed class PlantedKeyAttribution
{
    /// <summary>How long a key write, key addition or key login is remembered (by event time).</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(8);

    private const int MaxSessions = 20_000;
    private const int MaxBufferedPerSession = 256;
    private const long MaxBufferedBytes = 64L * 1024 * 1024;
    private const int MaxJoins = 200_000;
    private const int MaxWritesPerAccount = 32;
    private const int PruneEvery = 10_000;

    private readonly TimeSpan _window;
    private readonly Dictionary<string, List<KeyWrite>> _writes = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Owner, string Key), KeyAdd> _adds = [];
    private readonly Dictionary<(string Owner, string Key), DateTimeOffset> _firstUse = [];
    private readonly Dictionary<(string Host, long Pid), KeyLogin> _keyLogins = [];
    private readonly Dictionary<(string Host, long Pid), long> _pidSessions = [];
    private readonly Dictionary<(string Host, long Session), SessionState> _sessions = [];
    private long _bufferedBytes;
    private long _sequence;
    private DateTimeOffset _newest = DateTimeOffset.MinValue;

    public PlantedKeyAttribution(TimeSpan? window = null) => _window = window ?? DefaultWindow;

    /// <summary>Sessions found to be opened with a planted key.</summary>
    public long PlantedSessions { get; private set; }

    /// <summary>
    /// Reads one event in ledger order. Returns the planter when the event belongs to a planted-key session (or is the
    /// login with a planted key) and adds to <paramref name="refeed"/> the session events seen before the session was
    /// resolved (each must be evaluated again as the planter's, in the order given).
    /// </summary>
    public Planter? Observe(EventFacts e, byte[] entry, List<(long Index, byte[] Entry, Planter Planter)> refeed)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(refeed);
        _sequence++;
        if (e.Timestamp is { } ts && ts > _newest)
        {
            _newest = ts;
        }

        if (_sequence % PruneEvery == 0)
        {
            Prune();
        }

        var host = e.Host?.ToLowerInvariant();
        Planter? planter = null;
        if (host is null)
        {
            return null;
        }

        if (IsKeyLogin(e) && e.Timestamp is { } loginTime && e.Pid is { } sshdPid)
        {
            var owner = e.UserName!;
            var key = (owner, e.KeyFingerprint!);
            if (!_firstUse.TryGetValue(key, out var first) || loginTime < first)
            {
                _firstUse[key] = loginTime;
            }

            var login = new KeyLogin(owner, e.KeyFingerprint!, loginTime, e.Index) { Planter = Resolve(owner, e.KeyFingerprint!, loginTime) };
            Bounded(_keyLogins)[(host, sshdPid)] = login;
            planter = login.Planter;
            if (_pidSessions.TryGetValue((host, sshdPid), out var ses))
            {
                Link(host, ses, login, refeed);
            }
        }
        else if (e.Module == "sshd" && e.Pid is { } pid && _keyLogins.TryGetValue((host, pid), out var known))
        {
            planter = known.Planter;
        }

        if (e.Module != "sshd" && e.Pid is { } auditPid && e.SessionId is { } auditSession && e.Action is "loginuid-changed" or "user-login")
        {
            Bounded(_pidSessions)[(host, auditPid)] = auditSession;
            if (_keyLogins.TryGetValue((host, auditPid), out var login))
            {
                Link(host, auditSession, login, refeed);
            }
        }

        if (KeysFileWrite(e) is { } write)
        {
            if (!_writes.TryGetValue(write.Owner, out var writes))
            {
                _writes[write.Owner] = writes = [];
            }

            writes.Add(write);
            if (writes.Count > MaxWritesPerAccount)
            {
                writes.RemoveAt(0);
            }

            Recheck(write.Owner, null, refeed);
        }

        if (e.Action == "ssh-key-added" && e.TargetAccountName is { } keyOwner && e.KeyFingerprint is { } added && e.Timestamp is { } addedAt)
        {
            var writer = e.LoginUid is null && e.LoginName is null ? null : new Writer(e.LoginUid, e.LoginName);
            Bounded(_adds)[(keyOwner, added)] = new KeyAdd(writer, addedAt, e.Baseline);
            Recheck(keyOwner, added, refeed);
        }

        if (e.SessionId is { } session && e.Module != "sshd")
        {
            var state = Session(host, session);
            if (state.Planter is { } sessionPlanter)
            {
                planter ??= sessionPlanter;
            }
            else if (state.Buffer.Count < MaxBufferedPerSession && _bufferedBytes + entry.Length <= MaxBufferedBytes)
            {
                state.Buffer.Add((e.Index, entry));
                _bufferedBytes += entry.Length;
            }
        }

        return planter;
    }

    private static bool IsKeyLogin(EventFacts e) =>
        e.Action == "user-login" && e.LoginPhase == "authentication" && e.Outcome is null or "success"
        && e.KeyFingerprint is not null && e.UserName is not null;

    /// <summary>A successful write of some account's <c>authorized_keys</c> by a login session, with the file's owner.</summary>
    private static KeyWrite? KeysFileWrite(EventFacts e)
    {
        if (e.Action is not ("file-created" or "file-changed" or "file-renamed") || e.Outcome is "failure" || e.Timestamp is not { } at)
        {
            return null;
        }

        var path = e.FileTargetPath is { } target && IsKeysFile(target) ? target : e.FilePath is { } file && IsKeysFile(file) ? file : null;
        if (path is null || (e.LoginUid is null && e.LoginName is null))
        {
            return null;
        }

        var owner = OwnerOf(path) ?? e.FileOwner;
        if (owner is null)
        {
            return null;
        }

        var own = (e.LoginName is not null && e.LoginName == owner) || (e.LoginUid is not null && e.FileUid is not null && e.LoginUid == e.FileUid && path == e.FilePath);
        return new KeyWrite(owner, new Writer(e.LoginUid, e.LoginName), own, at, e.Index);

        static bool IsKeysFile(string p) => p.EndsWith("/authorized_keys", StringComparison.Ordinal) || p.EndsWith("/authorized_keys2", StringComparison.Ordinal);
    }

    /// <summary>The account whose keys file <paramref name="path"/> is, from <c>/home/NAME/.ssh/...</c> or <c>/root/.ssh/...</c>.</summary>
    private static string? OwnerOf(string path)
    {
        if (path.StartsWith("/root/.ssh/", StringComparison.Ordinal))
        {
            return "root";
        }

        const string home = "/home/";
        if (path.StartsWith(home, StringComparison.Ordinal))
        {
            var slash = path.IndexOf('/', home.Length);
            if (slash > home.Length && path.AsSpan(slash).StartsWith("/.ssh/", StringComparison.Ordinal))
            {
                return path[home.Length..slash];
            }
        }

        return null;
    }

    /// <summary>Who planted key <paramref name="key"/> used to log in to <paramref name="owner"/> at <paramref name="at"/>, or null.</summary>
    private Planter? Resolve(string owner, string key, DateTimeOffset at)
    {
        var bound = at;
        KeyAdd? add = null;
        if (_adds.TryGetValue((owner, key), out var found))
        {
            add = found;
            if (found.Baseline)
            {
                return null;
            }

            if (found.Writer is { } joined)
            {
                return joined.Name == owner ? null : new Planter(joined.LoginUid, joined.Name, owner, key);
            }

            bound = found.At < at ? found.At : at;
        }

        if (!_writes.TryGetValue(owner, out var writes))
        {
            return null;
        }

        KeyWrite? latest = null;
        foreach (var w in writes)
        {
            if (w.At <= bound && (latest is null || w.At >= latest.At))
            {
                latest = w;
            }
        }

        if (latest is null || latest.Own)
        {
            return null;
        }

        if (add is null && _firstUse.TryGetValue((owner, key), out var first) && first < latest.At)
        {
            return null; // the key logged in to the account before the other account's write: the owner's own
        }

        return new Planter(latest.Writer.LoginUid, latest.Writer.Name, owner, key);
    }

    private void Link(string host, long session, KeyLogin login, List<(long, byte[], Planter)> refeed)
    {
        var state = Session(host, session);
        state.Login = login;
        if (state.Planter is null && login.Planter is { } planter)
        {
            Plant(state, planter, refeed);
        }
    }

    /// <summary>After a key write or addition for <paramref name="owner"/>: resolves the key logins it may explain.</summary>
    private void Recheck(string owner, string? key, List<(long, byte[], Planter)> refeed)
    {
        foreach (var ((host, pid), login) in _keyLogins)
        {
            if (login.Account != owner || (key is not null && login.Key != key) || login.Planter is not null)
            {
                continue;
            }

            login.Planter = Resolve(owner, login.Key, login.At);
            if (login.Planter is { } planter && _pidSessions.TryGetValue((host, pid), out var session)
                && _sessions.TryGetValue((host, session), out var state) && state.Planter is null)
            {
                Plant(state, planter, refeed);
            }
        }
    }

    private void Plant(SessionState state, Planter planter, List<(long, byte[], Planter)> refeed)
    {
        state.Planter = planter;
        PlantedSessions++;
        foreach (var (index, entry) in state.Buffer)
        {
            refeed.Add((index, entry, planter));
            _bufferedBytes -= entry.Length;
        }

        state.Buffer.Clear();
    }

    private SessionState Session(string host, long session)
    {
        if (!_sessions.TryGetValue((host, session), out var state))
        {
            if (_sessions.Count >= MaxSessions)
            {
                DropOldestSessions();
            }

            _sessions[(host, session)] = state = new SessionState();
        }

        state.LastSequence = _sequence;
        return state;
    }

    private void DropOldestSessions()
    {
        foreach (var (key, state) in _sessions.OrderBy(s => s.Value.LastSequence).Take(MaxSessions / 10).ToList())
        {
            _bufferedBytes -= state.Buffer.Sum(b => (long)b.Entry.Length);
            _sessions.Remove(key);
        }
    }

    private static Dictionary<TKey, TValue> Bounded<TKey, TValue>(Dictionary<TKey, TValue> map)
        where TKey : notnull
    {
        if (map.Count >= MaxJoins)
        {
            // Joins are looked up within seconds of their event; a full table forgets its older half.
            foreach (var key in map.Keys.Take(MaxJoins / 2).ToList())
            {
                map.Remove(key);
            }
        }

        return map;
    }

    private void Prune()
    {
        var horizon = _newest - _window;
        foreach (var (owner, writes) in _writes.ToList())
        {
            writes.RemoveAll(w => w.At < horizon);
            if (writes.Count == 0)
            {
                _writes.Remove(owner);
            }
        }

        foreach (var key in _adds.Where(a => a.Value.At < horizon).Select(a => a.Key).ToList())
        {
            _adds.Remove(key);
        }

        foreach (var key in _keyLogins.Where(l => l.Value.At < horizon).Select(l => l.Key).ToList())
        {
            _keyLogins.Remove(key);
        }
    }

    /// <summary>An account that wrote a keys file: its login uid and name.</summary>
    private sealed record Writer(string? LoginUid, string? Name);

    private sealed record KeyWrite(string Owner, Writer Writer, bool Own, DateTimeOffset At, long Index);

    private sealed record KeyAdd(Writer? Writer, DateTimeOffset At, bool Baseline);

    private sealed record KeyLogin(string Account, string Key, DateTimeOffset At, long Index)
    {
        public Planter? Planter { get; set; }
    }

    private sealed class SessionState
    {
        public KeyLogin? Login { get; set; }

        public Planter? Planter { get; set; }

        public List<(long Index, byte[] Entry)> Buffer { get; } = [];

        public long LastSequence { get; set; }
    }
}

/// <summary>
/// The account a planted-key session is put on: the key file writer's login uid and name, the account the session
/// was logged in as, and the key.
/// </summary>
public sealed record Planter(string? LoginUid, string? Name, string SessionUser, string KeyFingerprint);
