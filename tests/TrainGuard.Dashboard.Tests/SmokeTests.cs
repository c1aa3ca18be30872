using TrainGuard.Dashboard.Tests.Support;

namespace TrainGuard.Dashboard.Tests;

[Collection(DashboardCollection.Name)]
public sealed class SmokeTests
{
    private readonly DashboardFixture _fixture;

    public SmokeTests(DashboardFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task LoginShowsTheOverview()
    {
        var (context, page, console) = await _fixture.OpenAsync(_fixture.ReaderToken);
        await using var _ = context;
        Assert.Equal("Overview · TrainGuard", await page.TitleAsync());
        Assert.Empty(console);
    }
}
