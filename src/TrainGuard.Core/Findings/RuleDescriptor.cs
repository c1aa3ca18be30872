namespace TrainGuard.Findings;

/// <summary>The description of a rule as reporting formats need it (SARIF <c>tool.driver.rules</c>).</summary>
public sealed record RuleDescriptor(string Id, string Name, Severity Severity, string Why, string Guidance)
{
    /// <summary>Relative link to the rule's guidance page.</summary>
    public string HelpPath => $"docs/rules/{Id}.md";
}
