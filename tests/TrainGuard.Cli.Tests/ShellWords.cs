using System.Text;

namespace TrainGuard.Cli.Tests;

/// <summary>Just enough of the shell's word rules to read the command lines of the README and docs.</summary>
internal static class ShellWords
{
    /// <summary>The line without a trailing <c># comment</c> (a '#' that starts a word outside quotes).</summary>
    public static string StripComment(string line)
    {
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is { } q)
            {
                quote = c == q ? null : quote;
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return line[..i].TrimEnd();
            }
        }

        return line;
    }

    /// <summary>The words of a command, quotes removed, up to the first redirection, pipe or command separator.</summary>
    public static List<string> Split(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in command)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    if (IsOperator(word.ToString()))
                    {
                        return words;
                    }

                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord && !IsOperator(word.ToString()))
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static bool IsOperator(string word) => word is ">" or ">>" or "<" or "|" or "&&" or "||" or ";" or "2>" or "&";
}
