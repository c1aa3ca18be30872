namespace TrainGuard.Agent.Audit;

/// <summary>Audit architectures (<c>arch=</c>: the AUDIT_ARCH_* constant in hex).</summary>
public enum AuditArch
{
    Unknown = 0,
    X86_64,
    Aarch64,
    I386,
    Arm,
}

/// <summary>A signal-sending syscall and where its arguments sit.</summary>
/// <param name="Name">kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal.</param>
/// <param name="SignalArg">Index of the signal argument (a0..a3).</param>
/// <param name="TargetArg">Index of the pid/tid argument, or -1 when the target is only in OBJ_PID (pidfd).</param>
public sealed record SignalSyscall(string Name, int SignalArg, int TargetArg);

/// <summary>
/// Syscall numbers TrainGuard interprets, per architecture. Signal syscalls from
/// <c>arch/x86/entry/syscalls/syscall_64.tbl</c>, <c>syscall_32.tbl</c>, the asm-generic
/// <c>unistd.h</c> (aarch64) and <c>arch/arm/tools/syscall.tbl</c>.
/// </summary>
public static class SyscallTable
{
    private static readonly SignalSyscall Kill = new("kill", 1, 0);
    private static readonly SignalSyscall Tkill = new("tkill", 1, 0);
    private static readonly SignalSyscall Tgkill = new("tgkill", 2, 1);
    private static readonly SignalSyscall RtSigqueueinfo = new("rt_sigqueueinfo", 1, 0);
    private static readonly SignalSyscall RtTgsigqueueinfo = new("rt_tgsigqueueinfo", 2, 1);
    private static readonly SignalSyscall PidfdSendSignal = new("pidfd_send_signal", 1, -1);

    private static readonly Dictionary<string, SignalSyscall> ByName = new(StringComparer.Ordinal)
    {
        ["kill"] = Kill,
        ["tkill"] = Tkill,
        ["tgkill"] = Tgkill,
        ["rt_sigqueueinfo"] = RtSigqueueinfo,
        ["rt_tgsigqueueinfo"] = RtTgsigqueueinfo,
        ["pidfd_send_signal"] = PidfdSendSignal,
    };

    /// <summary>The architecture for an <c>arch=</c> value.</summary>
    public static AuditArch ArchFromAuditValue(ulong value) => value switch
    {
        0xc000003e => AuditArch.X86_64,
        0xc00000b7 => AuditArch.Aarch64,
        0x40000003 => AuditArch.I386,
        0x40000028 => AuditArch.Arm,
        _ => AuditArch.Unknown,
    };

    public static string ArchName(AuditArch arch) => arch switch
    {
        AuditArch.X86_64 => "x86_64",
        AuditArch.Aarch64 => "aarch64",
        AuditArch.I386 => "i386",
        AuditArch.Arm => "armeb",
        _ => "unknown",
    };

    /// <summary>The signal syscall with this number on this architecture, or null.</summary>
    public static SignalSyscall? SignalSyscallFor(AuditArch arch, long number) => (arch, number) switch
    {
        (AuditArch.X86_64, 62) or (AuditArch.Aarch64, 129) or (AuditArch.I386, 37) or (AuditArch.Arm, 37) => Kill,
        (AuditArch.X86_64, 200) or (AuditArch.Aarch64, 130) or (AuditArch.I386, 238) or (AuditArch.Arm, 238) => Tkill,
        (AuditArch.X86_64, 234) or (AuditArch.Aarch64, 131) or (AuditArch.I386, 270) or (AuditArch.Arm, 268) => Tgkill,
        (AuditArch.X86_64, 129) or (AuditArch.Aarch64, 138) or (AuditArch.I386, 178) or (AuditArch.Arm, 178) => RtSigqueueinfo,
        (AuditArch.X86_64, 297) or (AuditArch.Aarch64, 240) or (AuditArch.I386, 335) or (AuditArch.Arm, 363) => RtTgsigqueueinfo,
        (_, 424) when arch != AuditArch.Unknown => PidfdSendSignal,
        _ => null,
    };

    /// <summary>By name (from an enriched <c>SYSCALL=kill</c>), or null.</summary>
    public static SignalSyscall? SignalSyscallByName(string? name) =>
        name is not null && ByName.TryGetValue(name, out var syscall) ? syscall : null;

    /// <summary>execve and execveat: their PATH records are the program, not a file change.</summary>
    public static bool IsExec(AuditArch arch, long number, string? enrichedName) =>
        enrichedName is "execve" or "execveat" || (arch, number) switch
        {
            (AuditArch.X86_64, 59) or (AuditArch.X86_64, 322) => true,
            (AuditArch.Aarch64, 221) or (AuditArch.Aarch64, 281) => true,
            (AuditArch.I386, 11) or (AuditArch.I386, 358) => true,
            (AuditArch.Arm, 11) or (AuditArch.Arm, 387) => true,
            _ => false,
        };

    /// <summary>
    /// For open-family syscalls, the index of the flags argument (open: a1, openat: a2); -1 for
    /// every other syscall (openat2 carries its flags in a struct the record does not show).
    /// </summary>
    public static int OpenFlagsArg(AuditArch arch, long number, string? enrichedName) =>
        enrichedName switch
        {
            "open" => 1,
            "openat" => 2,
            _ => (arch, number) switch
            {
                (AuditArch.X86_64, 2) or (AuditArch.I386, 5) or (AuditArch.Arm, 5) => 1,
                (AuditArch.X86_64, 257) or (AuditArch.Aarch64, 56) or (AuditArch.I386, 295) or (AuditArch.Arm, 322) => 2,
                _ => -1,
            },
        };

    /// <summary>x86_64 and generic names for the file syscalls TrainGuard reports, for raw logs.</summary>
    public static string? FileSyscallName(AuditArch arch, long number) => (arch, number) switch
    {
        (AuditArch.X86_64, 2) => "open",
        (AuditArch.X86_64, 257) or (AuditArch.Aarch64, 56) => "openat",
        (AuditArch.X86_64, 85) => "creat",
        (AuditArch.X86_64, 87) => "unlink",
        (AuditArch.X86_64, 263) or (AuditArch.Aarch64, 35) => "unlinkat",
        (AuditArch.X86_64, 82) => "rename",
        (AuditArch.X86_64, 264) or (AuditArch.Aarch64, 38) => "renameat",
        (AuditArch.X86_64, 316) or (AuditArch.Aarch64, 276) => "renameat2",
        (AuditArch.X86_64, 76) or (AuditArch.Aarch64, 45) => "truncate",
        (AuditArch.X86_64, 77) or (AuditArch.Aarch64, 46) => "ftruncate",
        (AuditArch.X86_64, 90) => "chmod",
        (AuditArch.X86_64, 268) or (AuditArch.Aarch64, 53) => "fchmodat",
        (AuditArch.X86_64, 92) => "chown",
        (AuditArch.X86_64, 260) or (AuditArch.Aarch64, 54) => "fchownat",
        (AuditArch.X86_64, 437) or (AuditArch.Aarch64, 437) => "openat2",
        (AuditArch.X86_64, 1) or (AuditArch.Aarch64, 64) => "write",
        _ => null,
    };
}
