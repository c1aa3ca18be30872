namespace TrainGuard.Dashboard.Tests.Support;

/// <summary>The dashboard tests share one server and one browser, and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}
