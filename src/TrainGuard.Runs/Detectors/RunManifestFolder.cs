using TrainGuard.Checkpoints.Runs;
using TrainGuard.Parsing;
using TrainGuard.Runs.Model;

namespace TrainGuard.Runs.Detectors;

/// <summary>
/// The server's run manifests (<c>server run --run-manifests DIR</c>): the manifest of a run is <c>DIR/NAME.yaml</c>,
/// NAME its <c>trainguard.run.name</c> (else its id). A name that is not a plain file name (a path, dots only) finds
/// nothing; a manifest that does not load is recorded in <see cref="Errors"/> and the run is checked without one.
/// Each name is looked up once (at most <see cref="MaxNames"/> remembered).
/// </summary>
public sealed class RunManifestFolder
{
    public const int MaxNames = 4096;

    private readonly string _directory;
    private readonly Dictionary<string, RunManifest?> _byName = new(StringComparer.Ordinal);
    private readonly List<string> _errors = [];

    public RunManifestFolder(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"{directory}: no such folder (the run manifests, NAME.yaml per run name)");
        }

        _directory = directory;
    }

    /// <summary>Manifests that did not load (file: line: why), newest last, at most 100.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>The manifest declared for the run of <paramref name="e"/>, or null.</summary>
    public RunManifest? Find(RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var name = e.RunName ?? e.RunId;
        if (_byName.TryGetValue(name, out var known))
        {
            return known;
        }

        RunManifest? manifest = null;
        if (IsPlainName(name))
        {
            var path = Path.Combine(_directory, name + ".yaml");
            if (File.Exists(path))
            {
                try
                {
                    manifest = RunManifestParser.Load(path);
                }
                catch (Exception ex) when (ex is MalformedInputException or IOException or UnauthorizedAccessException)
                {
                    if (_errors.Count < 100)
                    {
                        _errors.Add(ex.Message);
                    }
                }
            }
        }

        if (_byName.Count < MaxNames)
        {
            _byName[name] = manifest;
        }

        return manifest;
    }

    private static bool IsPlainName(string name) =>
        name.Length is > 0 and <= 200 && name.Trim('.').Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
