package report

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"zbench/matrix"
	"zbench/runner/sample"
)

// loadFixture: tcp 32 B at three rates for two settings. Batching's p99
// stays under 1 ms up to 100k/s and crosses at 1M/s; out_batch_size 1 is
// over 1 ms from 100k/s on, where its sender also falls behind.
func loadFixture() *Result {
	type point struct {
		obs      int
		rate     int
		achieved float64
		p99      int64
		behind   bool
	}
	points := []point{
		{8192, 10000, 10000, 80e3, false}, {8192, 100000, 99000, 300e3, false}, {8192, 1000000, 950000, 4e6, false},
		{1, 10000, 10000, 60e3, false}, {1, 100000, 90000, 20e6, true}, {1, 1000000, 110000, 900e6, true},
	}
	var cells []matrix.Cell
	var samples []sample.Sample
	for _, p := range points {
		c := cell(matrix.ProtocolTCP, 32, p.obs, true, 1)
		c.Rate = p.rate
		cells = append(cells, c)
		for run := 1; run <= 3; run++ {
			s := okSample(c, run, p.achieved)
			j := int64(run)
			s.Load = &sample.Load{Rate: p.rate, Messages: 1000, P50Ns: p.p99 / 4, P99Ns: p.p99 + j, P999Ns: p.p99 * 2, P9999Ns: p.p99 * 3,
				MaxNs: p.p99 * 4, MaxLagNs: 1000, Behind: p.behind && run != 3}
			samples = append(samples, s)
		}
	}
	small := cell(matrix.ProtocolIPC, 4, 8192, true, 1)
	small.Rate = 10000
	cells = append(cells, small)
	s := okSample(small, 1, 10000)
	s.Load = &sample.Load{Rate: 10000, NA: "messages of 4 B cannot carry the 8-byte sequence number"}
	samples = append(samples, s)
	return NewResult(Invocation{Start: fixedStart, Profile: "load", Runs: 3}, fixedEnv(), nil, cells, samples)
}

func TestLoadSection(t *testing.T) {
	r := loadFixture()
	groups := LoadGroups(r.Cells)
	if len(groups) != 2 || len(groups[0].settings) != 2 || groups[0].settings[0].obs != 8192 || len(groups[0].settings[0].points) != 3 {
		t.Fatalf("groups %+v", groups)
	}
	var md bytes.Buffer
	if err := writeMarkdown(&md, r, nil, groups[:1], nil); err != nil {
		t.Fatal(err)
	}
	sec := section(md.String(), "## Latency under load")
	for _, want := range []string{
		"- out_batch_size 8192: p99 crosses 1.00 ms between 100k/s (achieved 100k/s) and 1.00M/s (achieved 960k/s).",
		"- out_batch_size 1: p99 crosses 1.00 ms between 10.0k/s (achieved 10.1k/s) and 100k/s (achieved 90.9k/s).",
		"](" + groups[0].File() + ")",
		"| 1 | on | 100k | 90.9k | 5.00 ms | 20.0 ms | 40.0 ms | 60.0 ms | 80.0 ms | 2 of 3 runs | 3/3 ok |",
		"Latency n/a: messages of 4 B cannot carry",
	} {
		if strings.Contains(sec, "no figures") {
			t.Errorf("a group without figures lists its settings:\n%s", sec)
		}
		if !strings.Contains(sec, want) {
			t.Errorf("load section lacks %q:\n%s", want, sec)
		}
	}
	// Only drawn pictures are referenced.
	if strings.Contains(sec, "]("+groups[1].File()+")") {
		t.Error("a picture that was not drawn is referenced")
	}
	img, err := png.Decode(bytes.NewReader(mustPNG(t, groups[0])))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 300 {
		t.Errorf("picture %v too small", b)
	}
	// Cells without a rate have no such section.
	if md := renderMarkdown(t, fixtureResult()); strings.Contains(md, "## Latency under load") {
		t.Error("a result without rates has a latency-under-load section")
	}
}

func mustPNG(t *testing.T, g LoadGroup) []byte {
	t.Helper()
	b, err := g.PNG()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
