using System.Xml.Linq;
using TrainGuard.Ledger.Tests.Support;

namespace TrainGuard.Ledger.Tests.Client;

/// <summary>
/// Client-side verification (proofs, signed tree heads, the API client) is usable without the server: the pure ledger
/// and its clients reach no database driver, no storage project and no ASP.NET, through any chain of project references.
/// </summary>
public sealed class ClientLayeringTests
{
    private static readonly string[] Forbidden = ["TrainGuard.Server", "TrainGuard.Ledger.Storage", "Npgsql", "Microsoft.Data.Sqlite", "Microsoft.AspNetCore.App"];

    [Theory]
    [InlineData("TrainGuard.Ledger")]
    [InlineData("TrainGuard.Checkpoints")]
    [InlineData("TrainGuard.Agent")]
    public void Project_reaches_no_server_storage_or_database_driver(string project)
    {
        var reached = Closure(Path.Combine(TestPaths.RepositoryRoot, "src", project, project + ".csproj"));

        Assert.Contains("TrainGuard.Ledger", reached);
        Assert.Empty(reached.Intersect(Forbidden));
    }

    [Fact]
    public void Storage_is_where_the_database_drivers_are()
    {
        var reached = Closure(Path.Combine(TestPaths.RepositoryRoot, "src", "TrainGuard.Ledger.Storage", "TrainGuard.Ledger.Storage.csproj"));

        Assert.Contains("Npgsql", reached);
        Assert.Contains("Microsoft.Data.Sqlite", reached);
    }

    /// <summary>The projects, packages and frameworks a project references, directly or through its project references.</summary>
    private static HashSet<string> Closure(string projectFile)
    {
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(projectFile)]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (pending.TryPop(out var file))
        {
            Assert.True(File.Exists(file), $"{file} does not exist");
            if (!seen.Add(file))
            {
                continue;
            }

            reached.Add(Path.GetFileNameWithoutExtension(file));
            foreach (var element in XDocument.Load(file).Descendants())
            {
                var include = element.Attribute("Include")?.Value;
                switch (element.Name.LocalName)
                {
                    case "ProjectReference" when include is not null:
                        pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, include)));
                        break;
                    case "PackageReference" or "FrameworkReference" when include is not null:
                        reached.Add(include);
                        break;
                }
            }
        }

        return reached;
    }
}
