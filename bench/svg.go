package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Chart geometry and colours.
const (
	svgW, svgH                   = 760, 420
	padL, padR, padT, padB       = 80, 170, 40, 50
	plotW, plotH                 = svgW - padL - padR, svgH - padT - padB
	colorZK, colorMeerkat, colEc = "#d9822b", "#2b6cb0", "#888888"
)

var seriesColor = map[string]string{ZooKeeper: colorZK, Meerkat: colorMeerkat, Echo: colEc}

var seriesName = map[string]string{ZooKeeper: "Apache ZooKeeper", Meerkat: "Meerkat", Echo: "echo limit"}

type svg struct{ b strings.Builder }

func (s *svg) f(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) begin(title string) {
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	s.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.f(`<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(title))
}

func (s *svg) end() string { s.f("</svg>\n"); return s.b.String() }

func (s *svg) legend(systems []string) {
	for i, sys := range systems {
		y := padT + 10 + i*20
		s.f(`<rect x="%d" y="%d" width="14" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			svgW-padR+15, y, seriesColor[sys], svgW-padR+35, y+9, seriesName[sys])
	}
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// throughputChart plots read throughput against connections (depth 1) for
// both systems and the echo limit, x on a log scale.
func throughputChart(rep *Report) string {
	var s svg
	s.begin("getData throughput against connections (1 outstanding each)")
	labels := rep.labels(ScReadSweep)
	var conns []int
	for _, l := range labels {
		var n, d int
		if _, err := fmt.Sscanf(l, "conns=%d depth=%d", &n, &d); err == nil {
			conns = append(conns, n)
		}
	}
	systems := []string{Echo, ZooKeeper, Meerkat}
	ymax := 0.0
	val := func(sys string, n int) (float64, bool) {
		sc := ScReadSweep
		if sys == Echo {
			sc = ScEchoLimit
		}
		x := loadOf(rep.find(sc, loadLabel(n, 1), sys))
		if x == nil {
			return 0, false
		}
		return x.Throughput, true
	}
	for _, sys := range systems {
		for _, n := range conns {
			if v, ok := val(sys, n); ok {
				ymax = math.Max(ymax, v)
			}
		}
	}
	ymax = niceMax(ymax)
	if len(conns) == 0 {
		s.f(`<text x="%d" y="%d">no data</text>`, padL, padT+40)
		return s.end()
	}
	lo, hi := math.Log(float64(conns[0])), math.Log(float64(conns[len(conns)-1]))
	if hi == lo {
		hi = lo + 1
	}
	xOf := func(n int) float64 { return padL + (math.Log(float64(n))-lo)/(hi-lo)*plotW }
	yOf := func(v float64) float64 { return padT + plotH - v/ymax*plotH }
	// Axes and grid.
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := yOf(v)
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL, y, padL+plotW, y, padL-6, y+4, addCommas(fmt.Sprintf("%.0f", v)))
	}
	for _, n := range conns {
		x := xOf(n)
		s.f(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/><text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x, padT, x, padT+plotH, x, padT+plotH+16, n)
	}
	s.f(`<text x="%d" y="%d" text-anchor="middle">connections (log scale)</text>`+"\n", padL+plotW/2, svgH-10)
	s.f(`<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">requests/s</text>`+"\n", padT+plotH/2, padT+plotH/2)
	for _, sys := range systems {
		var pts []string
		for _, n := range conns {
			if v, ok := val(sys, n); ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(n), yOf(v)))
				s.f(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", xOf(n), yOf(v), seriesColor[sys])
			}
		}
		dash := ""
		if sys == Echo {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 1 {
			s.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), seriesColor[sys], dash)
		}
	}
	s.legend(systems)
	return s.end()
}

// latencyChart draws grouped bars of the latency percentiles of scenario
// (read latencies), one group per percentile, log scale.
func latencyChart(rep *Report, scenario, title string) string {
	var s svg
	s.begin(title)
	systems := []string{ZooKeeper, Meerkat}
	if scenario == ScGetData {
		systems = []string{Echo, ZooKeeper, Meerkat}
	}
	type series struct {
		sys  string
		vals []float64
	}
	names := []string{"p50", "p90", "p99", "p99.9", "max"}
	var data []series
	vmin, vmax := math.Inf(1), 0.0
	for _, sys := range systems {
		sc := scenario
		label := ""
		if sys == Echo {
			sc, label = ScEchoLimit, rep.headLabel()
		}
		x := loadOf(rep.find(sc, label, sys))
		if x == nil {
			continue
		}
		l := x.Reads
		vals := []float64{l.P50, l.P90, l.P99, l.P999, l.Max}
		for _, v := range vals {
			if v > 0 {
				vmin, vmax = math.Min(vmin, v), math.Max(vmax, v)
			}
		}
		data = append(data, series{sys, vals})
	}
	if len(data) == 0 || vmax == 0 {
		s.f(`<text x="%d" y="%d">no data</text>`, padL, padT+40)
		return s.end()
	}
	lo := math.Floor(math.Log10(vmin))
	hi := math.Ceil(math.Log10(vmax))
	if hi == lo {
		hi = lo + 1
	}
	yOf := func(v float64) float64 {
		v = math.Max(v, math.Pow(10, lo))
		return padT + plotH - (math.Log10(v)-lo)/(hi-lo)*plotH
	}
	for e := lo; e <= hi; e++ {
		y := yOf(math.Pow(10, e))
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL, y, padL+plotW, y, padL-6, y+4, us(math.Pow(10, e)))
	}
	groupW := float64(plotW) / float64(len(names))
	barW := groupW * 0.8 / float64(len(data))
	for g, name := range names {
		x0 := padL + float64(g)*groupW + groupW*0.1
		s.f(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x0+groupW*0.4, padT+plotH+16, name)
		for i, d := range data {
			v := d.vals[g]
			y := yOf(v)
			x := x0 + float64(i)*barW
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x, y, barW-2, float64(padT+plotH)-y, seriesColor[d.sys], seriesName[d.sys], name, us(v))
		}
	}
	s.f(`<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">latency (log scale)</text>`+"\n", padT+plotH/2, padT+plotH/2)
	present := make([]string, 0, len(data))
	for _, d := range data {
		present = append(present, d.sys)
	}
	s.legend(present)
	return s.end()
}
