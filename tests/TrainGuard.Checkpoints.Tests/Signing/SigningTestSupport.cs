using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace TrainGuard.Checkpoints.Tests.Signing;

/// <summary>Paths of the repository's checkpoint fixtures and the public model-signing vectors, temp folders and keys.</summary>
internal static class SigningTestSupport
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures", "ckpt");

    public static string Genuine => Path.Combine(Fixtures, "checkpoint-6");

    /// <summary>The sigstore/model-transparency vectors (<c>tests/fixtures/vectors/model-signing</c>, sources in its PROVENANCE.md).</summary>
    public static string Vectors => Path.Combine(RepoRoot, "tests", "fixtures", "vectors", "model-signing");

    public static string VectorKeys => Path.Combine(Vectors, "keys", "certificate");

    public static JsonObject Expected { get; } = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "expected.json")))!.AsObject();

    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "tg-ckpt-sign-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteQuietly(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Copies a folder (files only, recursively) to a fresh temp folder named <paramref name="name"/>.</summary>
    public static string CopyFolder(string source, string parent, string name)
    {
        var target = Path.Combine(parent, name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    public static ECDsa NewKey() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static X509Certificate2Collection VectorCertificates()
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(Path.Combine(VectorKeys, "ca-cert.pem"));
        collection.ImportFromPemFile(Path.Combine(VectorKeys, "int-ca-cert.pem"));
        return collection;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrainGuard.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("TrainGuard.slnx not found above " + AppContext.BaseDirectory);
    }
}
