package store_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/store"
	"github.com/tinyscale/tinyscale/store/storetest"
)

// TestSchemaDocQueries runs every example query of docs/schema.md against a
// populated database, so that the documentation stays valid SQL for the
// current schema.
func TestSchemaDocQueries(t *testing.T) {
	b, err := os.ReadFile("../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "```sql\n")
	if start < 0 {
		t.Fatal("docs/schema.md has no sql block")
	}
	block := doc[start+len("```sql\n"):]
	block = block[:strings.Index(block, "```")]
	var queries []string
	for _, q := range strings.Split(block, ";\n") {
		if strings.TrimSpace(stripComments(q)) != "" {
			queries = append(queries, q)
		}
	}
	if len(queries) < 4 {
		t.Fatalf("found %d queries in docs/schema.md", len(queries))
	}

	ctx := context.Background()
	db := storetest.MustOpenDB(t)
	for _, r := range []store.Run{storetest.Run("paper-pair/silia/seed=1", "h1"), storetest.Run("paper-pair/gpt2/seed=1", "h2")} {
		r.Experiment, r.Family = "paper-pair", strings.Split(r.Name, "/")[1]
		storetest.MustAddRun(t, db, r)
		fillRun(t, db, r.Name, 30)
		if err := db.WriteEval(ctx, store.Eval{Run: r.Name, Step: 30, Split: store.SplitFinalVal, Loss: 2, BPB: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range queries {
		rows, err := db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Errorf("query fails: %v\n%s", err, q)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("query fails: %v\n%s", err, q)
		}
		rows.Close()
		if n == 0 && !strings.Contains(q, "trainer died") {
			t.Errorf("query returns no rows on a populated database:\n%s", q)
		}
	}
}

func stripComments(q string) string {
	var b strings.Builder
	for _, l := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
