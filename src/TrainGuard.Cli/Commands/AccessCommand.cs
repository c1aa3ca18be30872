using System.CommandLine;
using TrainGuard.Access;
using TrainGuard.Access.Policy;
using TrainGuard.Cli.Options;
using TrainGuard.Findings;
using TrainGuard.Parsing;

namespace TrainGuard.Cli.Commands;

/// <summary><c>trainguard access check</c>: who can modify what the cluster trusts, against a policy.</summary>
public static class AccessCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("access", """
            Know who can change what training depends on.

            check     every account that can modify each asset of a policy (shared Python environments, training
                      code, checkpoint and dataset folders, scheduler scripts, /etc files), with the reason, and a
                      finding for each one the policy does not allow
            """);
        command.Subcommands.Add(Check(stdout, stderr));
        return command;
    }

    private static Command Check(TextWriter stdout, TextWriter stderr)
    {
        var policy = new Option<FileInfo>("--policy")
        {
            HelpName = "FILE",
            Description = "The access policy (YAML, docs/access.md): each asset's path, kind (code, config, checkpoints, data) and the users and groups that should be able to write it.",
            Required = true,
        };
        var root = new Option<DirectoryInfo>("--root")
        {
            HelpName = "DIR",
            Description = "The folder standing for / (a node's file system mounted or copied elsewhere): asset paths, etc/passwd, etc/group, etc/sudoers and the bin folders are read under it. Default: /.",
            DefaultValueFactory = _ => new DirectoryInfo("/"),
        };
        var output = new ReportOptions(sarif: true);
        var command = new Command("check", """
            Compute who can modify each asset the policy lists, and report every account the policy does not allow.

            An account can modify an asset when it: owns the asset, a file in it or a folder above it; has write
            permission on any of them through the group or other bits or a POSIX ACL entry (named users and groups,
            limited by the mask; default ACLs are not effective) - a writable folder above means the asset can be
            replaced, unless the folder is sticky (o+t) and the account owns nothing there; belongs (etc/group or
            its primary group in etc/passwd) to a group with such permission; may run ALL, a shell, an editor, tee,
            cp, install... through sudo as root or as one of those writers (etc/sudoers, etc/sudoers.d); or can run
            an executable in a bin folder whose file capabilities (cap_dac_override, cap_fowner, cap_chown) bypass
            permissions. Root always can and is never a finding. Each writer comes with its reason, e.g.
            "intern7 via group ml-shared (g+w on /opt/envs/torch/lib/python3.11/site-packages/torch/optim)".

            Findings, most important first: another account can edit shared code or configuration (TG-ACC-001,
            critical), checkpoints or data (TG-ACC-002, high), every account can (TG-ACC-003: critical on code,
            high elsewhere); a sudoers or account line not understood (TG-ACC-010). A policy path that matches
            nothing is an error.

            Examples:
              trainguard access check --policy access-policy.yaml
              trainguard access check --policy access-policy.yaml --root /mnt/node7 -f json
            """ + "\n" + ExitCodes.HelpText);
        command.AddOptions(policy, root);
        output.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            output.Validate(parse);
            var policyFile = InputValidation.ExistingFile(parse.GetValue(policy), "--policy")!;
            var rootFolder = parse.GetValue(root)!;
            if (!rootFolder.Exists)
            {
                throw new CliException($"--root: folder {rootFolder.FullName} does not exist");
            }

            Report report;
            try
            {
                var rules = AccessPolicy.Load(policyFile);
                report = await Task.Run(() => AccessCheck.Run(rules, rootFolder.FullName, ct), ct);
            }
            catch (MalformedInputException ex)
            {
                throw new CliException(ex.Message, ex);
            }
            catch (AccessException ex)
            {
                throw new CliException(ex.Message, ex);
            }

            return output.Write(parse, report, stdout, stderr);
        });
        return command;
    }
}
