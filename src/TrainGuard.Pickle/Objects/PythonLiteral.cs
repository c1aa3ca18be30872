using System.Globalization;
using System.Text;
using TrainGuard.Parsing;

namespace TrainGuard.Pickle.Objects;

/// <summary>
/// A tiny parser for the Python literal subset numpy writes in <c>.npy</c> headers: dict, str, tuple, list, int
/// (with a Python 2 <c>L</c> suffix), True, False, None. No floats, no expressions, nothing evaluated. Values are
/// the <see cref="PyValue"/>s a pickle reads into, with <see cref="PyValue.Offset"/> the position in the text plus
/// the base offset; a dict keeps a repeated key as a second entry (<see cref="PyDict.Add"/>) so a reader can
/// refuse the ambiguity instead of guessing which one a loader keeps.
/// </summary>
public static class PythonLiteral
{
    public const int MaxDepth = 32;

    /// <summary>Parses <paramref name="text"/> as one literal (surrounding whitespace allowed). <paramref name="baseOffset"/> is added to error offsets.</summary>
    public static PyValue Parse(string text, long baseOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new Parser(text, baseOffset);
        var value = parser.ParseValue(0);
        parser.SkipWhitespace();
        if (!parser.AtEnd)
        {
            parser.Fail("unexpected text after the literal");
        }

        return value;
    }

    private ref struct Parser
    {
        private readonly string _text;
        private readonly long _baseOffset;
        private int _pos;

        public Parser(string text, long baseOffset)
        {
            _text = text;
            _baseOffset = baseOffset;
            _pos = 0;
        }

        public readonly bool AtEnd => _pos >= _text.Length;

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public readonly void Fail(string message) => MalformedInputException.Throw(InputErrorKind.Syntax, $"header literal: {message}", _baseOffset + _pos);

        private readonly long Here => _baseOffset + _pos;

        public void SkipWhitespace()
        {
            while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r')
            {
                _pos++;
            }
        }

        public PyValue ParseValue(int depth)
        {
            if (depth > MaxDepth)
            {
                Fail($"nesting deeper than {MaxDepth}");
            }

            SkipWhitespace();
            if (AtEnd)
            {
                Fail("ends where a value was expected");
            }

            var c = _text[_pos];
            var at = Here;
            switch (c)
            {
                case '{':
                    return ParseDict(depth);
                case '(':
                    return ParseSequence(depth, ')', isTuple: true);
                case '[':
                    return ParseSequence(depth, ']', isTuple: false);
                case '\'' or '"':
                    return new PyStr(ParseString(), at);
                case 'u' or 'U' when _pos + 1 < _text.Length && _text[_pos + 1] is '\'' or '"':
                    _pos++;
                    return new PyStr(ParseString(), at);
                case '-' or '+' or (>= '0' and <= '9'):
                    return ParseInt();
                default:
                    if (TryKeyword("True"))
                    {
                        return new PyBool(true, at);
                    }

                    if (TryKeyword("False"))
                    {
                        return new PyBool(false, at);
                    }

                    if (TryKeyword("None"))
                    {
                        return new PyNone(at);
                    }

                    Fail($"unexpected character '{c}'");
                    return null!;
            }
        }

        private bool TryKeyword(string keyword)
        {
            if (string.CompareOrdinal(_text, _pos, keyword, 0, keyword.Length) != 0)
            {
                return false;
            }

            var end = _pos + keyword.Length;
            if (end < _text.Length && (char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_'))
            {
                return false;
            }

            _pos = end;
            return true;
        }

        private PyDict ParseDict(int depth)
        {
            var dict = new PyDict(Here);
            _pos++;
            while (true)
            {
                SkipWhitespace();
                if (AtEnd)
                {
                    Fail("unterminated dict");
                }

                if (_text[_pos] == '}')
                {
                    _pos++;
                    return dict;
                }

                var key = ParseValue(depth + 1);
                SkipWhitespace();
                if (AtEnd || _text[_pos] != ':')
                {
                    Fail("expected ':' in dict");
                }

                _pos++;
                dict.Add(key, ParseValue(depth + 1));
                if (!SeparatorOrClose('}'))
                {
                    _pos++;
                    return dict;
                }
            }
        }

        /// <summary>After an item: consumes a comma and returns true, or sees the closer (not consumed) and returns false.</summary>
        private bool SeparatorOrClose(char close)
        {
            SkipWhitespace();
            if (AtEnd)
            {
                Fail($"unterminated literal, expected ',' or '{close}'");
            }

            if (_text[_pos] == ',')
            {
                _pos++;
                return true;
            }

            if (_text[_pos] != close)
            {
                Fail($"expected ',' or '{close}'");
            }

            return false;
        }

        private PyValue ParseSequence(int depth, char close, bool isTuple)
        {
            var at = Here;
            _pos++;
            var items = new List<PyValue>();
            var sawComma = false;
            while (true)
            {
                SkipWhitespace();
                if (AtEnd)
                {
                    Fail("unterminated sequence");
                }

                if (_text[_pos] == close)
                {
                    _pos++;
                    break;
                }

                items.Add(ParseValue(depth + 1));
                if (!SeparatorOrClose(close))
                {
                    _pos++;
                    break;
                }

                sawComma = true;
            }

            if (isTuple && items.Count == 1 && !sawComma)
            {
                return items[0];
            }

            if (isTuple)
            {
                return new PyTuple([.. items], at);
            }

            var list = new PyList(at);
            list.MutableItems.AddRange(items);
            return list;
        }

        private string ParseString()
        {
            var quote = _text[_pos++];
            var builder = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    Fail("unterminated string");
                }

                var c = _text[_pos++];
                if (c == quote)
                {
                    return builder.ToString();
                }

                if (c == '\n')
                {
                    Fail("newline inside a string");
                }

                if (c != '\\')
                {
                    builder.Append(c);
                    continue;
                }

                if (AtEnd)
                {
                    Fail("unterminated escape");
                }

                var e = _text[_pos++];
                switch (e)
                {
                    case '\\' or '\'' or '"':
                        builder.Append(e);
                        break;
                    case 'n':
                        builder.Append('\n');
                        break;
                    case 't':
                        builder.Append('\t');
                        break;
                    case 'r':
                        builder.Append('\r');
                        break;
                    case '0':
                        builder.Append('\0');
                        break;
                    case 'x':
                        builder.Append((char)ParseHex(2));
                        break;
                    case 'u':
                        builder.Append((char)ParseHex(4));
                        break;
                    default:
                        Fail($"unsupported escape '\\{e}'");
                        break;
                }
            }
        }

        private int ParseHex(int digits)
        {
            if (_text.Length - _pos < digits || !int.TryParse(_text.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                Fail("bad hex escape");
                return 0;
            }

            _pos += digits;
            return value;
        }

        private PyInt ParseInt()
        {
            var start = _pos;
            var at = Here;
            if (_text[_pos] is '-' or '+')
            {
                _pos++;
            }

            var digitsStart = _pos;
            while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
            {
                _pos++;
            }

            if (_pos == digitsStart)
            {
                Fail("sign without digits");
            }

            if (_pos < _text.Length && _text[_pos] is '.' or 'e' or 'E' or 'j' or 'x' or '_')
            {
                Fail("only plain integers are accepted");
            }

            var span = _text.AsSpan(start, _pos - start);
            if (_pos < _text.Length && _text[_pos] is 'L' or 'l')
            {
                _pos++;
            }

            if (!long.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                _pos = start;
                Fail("integer out of range");
            }

            return new PyInt(value, at);
        }
    }
}
