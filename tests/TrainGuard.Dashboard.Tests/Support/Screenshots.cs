using Microsoft.Playwright;

namespace TrainGuard.Dashboard.Tests.Support;

/// <summary>Screenshots for the README: written to the repository's <c>docs/</c> folder (committed) on every run.</summary>
public static class Screenshots
{
    public static async Task SaveAsync(IPage page, string name)
    {
        var path = Path.Combine(DashboardFixture.RepositoryRoot, "docs", name);
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = false });
        Assert.True(bytes.Length > 10_000, $"the screenshot {name} is only {bytes.Length} bytes");
        await File.WriteAllBytesAsync(path, bytes);
    }
}
