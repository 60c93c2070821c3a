package report

import (
	"bytes"
	"fmt"
	"html/template"
)

// pageTemplate is index.html. html/template escapes every value (samples,
// run names, failure reasons), so the page is safe whatever the DB holds.
var pageTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
` + generatorMeta + `
<title>tinyscale report</title>
<style>
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em; color: #222; line-height: 1.35; }
.scroll { max-width: 100%; overflow-x: auto; margin: 0.5em 0 1.5em; }
table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.4em; text-align: left; vertical-align: top; max-width: 22em; overflow-wrap: break-word; }
th { overflow-wrap: anywhere; }
li, p, figcaption { overflow-wrap: anywhere; }
th { background: #f0f0f0; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f7f7f7; padding: 0.5em; white-space: pre-wrap; overflow-wrap: anywhere; }
.note { font-size: 0.9em; color: #444; }
.failed { color: #a00; }
</style>
</head>
<body>
<h1>tinyscale report</h1>
<p class="note">{{.NRuns}} runs in {{.NExperiments}} experiment{{if ne .NExperiments 1}}s{{end}}. Regenerate with <code>tinyscale report</code>;
tables are also in <a href="tables/">tables/</a> as Markdown and CSV, figures in <a href="figures/">figures/</a>
(double- and single-column), and every number stated here, with its interval and method, in <a href="report.json">report.json</a>.</p>
{{if .Warnings}}<h2>Warnings</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
<h2>Headline</h2>
{{if .Headlines}}<ul>{{range .Headlines}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>No experiment has finished runs of both a Silia family and a GPT-2 family.</p>{{end}}
{{if .Failed}}<h2>Failed runs</h2><ul>{{range .Failed}}<li class="failed"><b>{{.Name}}</b>: {{.Progress}}</li>{{end}}</ul>{{end}}
{{if .Running}}<h2>Runs in progress</h2><ul>{{range .Running}}<li><b>{{.Name}}</b>: {{.Progress}}</li>{{end}}</ul>{{end}}
<h2>Tables</h2>
{{range .Tables}}<h3 id="table-{{.Name}}">{{.Title}}</h3>
<p class="note">{{.Note}} (<a href="tables/{{.Name}}.md">Markdown</a>, <a href="tables/{{.Name}}.csv">CSV</a>)</p>
{{if .Rows}}<div class="scroll"><table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table></div>{{else}}<p>(no rows)</p>{{end}}
{{end}}
<h2>Figures</h2>
{{range .Figures}}<figure id="fig-{{.Name}}"><img src="figures/{{.Name}}.png" alt="{{.Title}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}}{{range .Links}} <a href="{{.Href}}">{{.Format}}</a>{{end}}</figcaption></figure>
{{end}}
<h2>Samples</h2>
{{range .Samples}}<h3>{{.Run}} (step {{.Step}})</h3>
{{range .Items}}<p class="note">prompt: <code>{{.Prompt}}</code></p><pre>{{.Text}}</pre>
{{end}}{{else}}<p>No samples recorded.</p>
{{end}}
</body>
</html>
`))

type pageLink struct{ Href, Format string }

type pageFigure struct {
	Name, Title, Caption string
	Links                []pageLink
}

type pageRun struct{ Name, Progress string }

type pageSamples struct {
	Run   string
	Step  int64
	Items []Sample
}

type pageData struct {
	NRuns, NExperiments int
	Warnings, Headlines []string
	Failed, Running     []pageRun
	Tables              []Table
	Figures             []pageFigure
	Samples             []pageSamples
}

// indexHTML renders the page showing every table, figure and each run's
// latest samples.
func (a *analysis) indexHTML(rep *Report, formats []string) ([]byte, error) {
	d := pageData{NRuns: len(a.runs), NExperiments: len(a.experiments),
		Warnings: rep.Warnings, Headlines: rep.Headlines, Tables: rep.Tables}
	for _, r := range a.runs {
		switch r.Status {
		case StatusFailed:
			d.Failed = append(d.Failed, pageRun{r.Name, r.progress()})
		case StatusRunning:
			d.Running = append(d.Running, pageRun{r.Name, r.progress()})
		}
		if len(r.Samples) > 0 {
			last := r.Samples[len(r.Samples)-1].Step
			ps := pageSamples{Run: r.Name, Step: last}
			for _, s := range r.Samples {
				if s.Step == last {
					ps.Items = append(ps.Items, s)
				}
			}
			d.Samples = append(d.Samples, ps)
		}
	}
	for _, f := range rep.Figures {
		pf := pageFigure{Name: f.Name, Title: f.Title, Caption: f.Caption}
		for _, sz := range figSizes {
			for _, format := range formats {
				if format == "png" && sz.suffix == "" {
					continue // the picture itself
				}
				label := format
				if sz.suffix != "" {
					label = "single-column " + format
				}
				pf.Links = append(pf.Links, pageLink{Href: "figures/" + f.Name + sz.suffix + "." + format, Format: label})
			}
		}
		d.Figures = append(d.Figures, pf)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return b.Bytes(), nil
}
