using System.Text;

namespace TrainGuard.Review.Parsing;

/// <summary>Renders a <see cref="PyNode"/> as compact Python-like text (<c>torch.load(f, weights_only=False)</c>), bounded in length.</summary>
public static class PyNodeText
{
    public const int MaxLength = 160;

    public static string Render(PyNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var builder = new StringBuilder();
        Append(builder, node, 0);
        return builder.Length > MaxLength ? builder.ToString(0, MaxLength) + "…" : builder.ToString();
    }

    private static void Append(StringBuilder b, PyNode node, int depth)
    {
        if (b.Length > MaxLength || depth > 40)
        {
            return;
        }

        switch (node.Kind)
        {
            case "Name":
            case "Const":
                b.Append(node.Name);
                break;
            case "Num":
                b.Append(node.Value);
                break;
            case "Str":
                b.Append('\'').Append(Findings.TextSanitizer.Escape(node.Value, 60)).Append('\'');
                break;
            case "FString":
                b.Append("f'…'");
                break;
            case "Attribute":
                Append(b, node.Children[0], depth + 1);
                b.Append('.').Append(node.Name);
                break;
            case "Call":
                Append(b, node.Children[0], depth + 1);
                b.Append('(');
                for (var i = 1; i < node.Children.Count; i++)
                {
                    if (i > 1)
                    {
                        b.Append(", ");
                    }

                    Append(b, node.Children[i], depth + 1);
                }

                b.Append(')');
                break;
            case "Keyword":
                b.Append(node.Name is null ? "**" : node.Name + "=");
                Append(b, node.Children[0], depth + 1);
                break;
            case "Subscript":
                Append(b, node.Children[0], depth + 1);
                b.Append('[');
                if (node.Children.Count > 1)
                {
                    Append(b, node.Children[1], depth + 1);
                }

                b.Append(']');
                break;
            case "UnaryOp":
                b.Append(node.Name == "not" ? "not " : node.Name);
                Append(b, node.Children[0], depth + 1);
                break;
            case "BinOp":
            case "BoolOp":
            case "Compare":
                var ops = (node.Name ?? string.Empty).Split(',');
                for (var i = 0; i < node.Children.Count; i++)
                {
                    if (i > 0)
                    {
                        b.Append(' ').Append(ops[Math.Min(i - 1, ops.Length - 1)]).Append(' ');
                    }

                    Append(b, node.Children[i], depth + 1);
                }

                break;
            case "Assign":
                for (var i = 0; i < node.Children.Count; i++)
                {
                    if (i > 0)
                    {
                        b.Append(" = ");
                    }

                    Append(b, node.Children[i], depth + 1);
                }

                break;
            case "AugAssign":
                Append(b, node.Children[0], depth + 1);
                b.Append(' ').Append(node.Name).Append(' ');
                Append(b, node.Children[1], depth + 1);
                break;
            default:
                b.Append(node.Kind);
                if (node.Name is not null)
                {
                    b.Append(' ').Append(node.Name);
                }

                break;
        }
    }
}
