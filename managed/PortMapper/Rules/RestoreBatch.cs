using System.Text;

namespace NetIsolator.PortMapper.Rules;

/// <summary>
/// The changes of one ADD, DEL or GC for one address family, as <c>iptables-restore --noflush</c> input: per table,
/// commands in order (<c>-N</c>, <c>-A</c>, <c>-I</c>, <c>-D</c>, <c>-X</c>), each table closed by COMMIT. With the nft
/// backend the whole input is one transaction; with legacy each table is swapped in whole. Either way a failing
/// line leaves that table as it was, so a batch is never half-applied within a table.
/// </summary>
public sealed class RestoreBatch
{
    private readonly List<(string Table, List<string> Lines)> _tables = [];

    public bool IsEmpty => _tables.All(t => t.Lines.Count == 0);

    /// <summary>Number of command lines.</summary>
    public int Count => _tables.Sum(t => t.Lines.Count);

    public IEnumerable<string> Lines(string table) => _tables.Where(t => t.Table == table).SelectMany(t => t.Lines);

    public void Add(string table, string line)
    {
        var entry = _tables.FirstOrDefault(t => t.Table == table);
        if (entry.Lines is null)
        {
            entry = (table, []);
            _tables.Add(entry);
        }

        entry.Lines.Add(line);
    }

    public void Append(IptablesRule rule) => Add(rule.Table, rule.Format("-A"));

    public void Insert(IptablesRule rule) => Add(rule.Table, rule.Format("-I"));

    public void Delete(IptablesRule rule) => Add(rule.Table, rule.Format("-D"));

    /// <summary>The restore input: <c>*table</c>, its lines, <c>COMMIT</c>, for each table that has lines.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        foreach (var (table, lines) in _tables.Where(t => t.Lines.Count > 0))
        {
            text.Append('*').Append(table).Append('\n');
            foreach (var line in lines)
            {
                text.Append(line).Append('\n');
            }

            text.Append("COMMIT\n");
        }

        return text.ToString();
    }

    public override string ToString() => Render();
}
