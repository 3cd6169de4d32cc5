package matrix

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Keys of the scenario file, besides the axis names.
const (
	keyDefaultProfile     = "default_profile"
	keyDefaults           = "defaults"
	keyProfiles           = "profiles"
	keyHosts              = "hosts"
	keyHostSender         = "sender"
	keyHostReceiver       = "receiver"
	keyDataAddress        = "data_address"
	keyDescription        = "description"
	keyRuns               = "runs"
	keyWarmup             = "warmup_messages"
	keyThroughputMessages = "throughput_messages"
	keyThroughputDuration = "throughput_duration"
	keyLatency            = "latency_round_trips"
	keyTimeout            = "timeout"
)

// The "allowed:" texts of values that are not axes.
const (
	allowedCount0     = "integers >= 0"
	allowedCount1     = "integers >= 1"
	allowedDuration   = "a positive duration such as 500ms, 10s, 1m30s"
	allowedThroughput = "exactly one of " + keyThroughputMessages + ", " + keyThroughputDuration
	allowedName       = "letters, digits, '.', '_' and '-', starting with a letter or digit"
)

var (
	topKeys      = []string{keyDefaultProfile, keyDefaults, keyHosts, keyProfiles}
	hostKeys     = []string{keyHostSender, keyHostReceiver, keyDataAddress}
	workloadKeys = []string{keyRuns, keyWarmup, keyThroughputMessages, keyThroughputDuration, keyLatency, keyTimeout}
	profileKeys  = slices.Concat([]string{keyDescription}, Axes, workloadKeys)
	profileName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	yamlLine     = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	bigInt       = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`) // an integer YAML resolves as a float: too large
)

// Parse parses and validates a scenario file's contents; name is the path
// reported in errors and recorded in the scenarios. Problems are reported
// all at once, sorted by position, as an [Errors] value.
func Parse(name string, data []byte) (*File, error) {
	sum := sha256.Sum256(data)
	f := &File{Path: name, SHA256: hex.EncodeToString(sum[:])}
	p := &parser{file: name}
	if root := p.document(data); root != nil {
		p.top(root, f)
	}
	if len(p.errs) > 0 {
		p.errs.sort()
		return nil, p.errs
	}
	return f, nil
}

// parser walks the YAML node tree of one file and collects every problem.
type parser struct {
	file string
	errs Errors
}

// add records a problem at n's position (n may be nil for a problem of the
// whole file).
func (p *parser) add(n *yaml.Node, kind error, allowed, format string, args ...any) {
	e := &Error{File: p.file, Msg: fmt.Sprintf(format, args...), Allowed: allowed, Err: kind}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// document decodes the one YAML document of the file and returns its root
// node, or nil after recording why there is none.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, ErrMissingKey, strings.Join(topKeys, ", "), "the file is empty")
		} else {
			p.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.add(&extra, ErrSyntax, "", "a second YAML document; the file must hold exactly one")
	case !errors.Is(err, io.EOF):
		p.syntax(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.add(nil, ErrMissingKey, strings.Join(topKeys, ", "), "the file is empty")
		return nil
	}
	return doc.Content[0]
}

// parserProblems are the problems the YAML library's parser (as opposed to
// its scanner) reports, with a hint for each. The library reports the line of
// a parser problem counted from 0 and, for most, the line where the enclosing
// list or mapping starts rather than where the problem is.
var parserProblems = map[string]string{
	"did not find expected ',' or ']'":       "in a [...] list; check its brackets and commas",
	"did not find expected ',' or '}'":       "in a {...} mapping; check its braces and commas",
	"did not find expected key":              "in a mapping; check the indentation of its keys",
	"did not find expected '-' indicator":    "in a list; check the indentation of its '- ' items",
	"did not find expected node content":     "a value is missing",
	"did not find expected <document start>": "",
	"did not find expected <stream-start>":   "",
	"found duplicate %TAG directive":         "",
	"found duplicate %YAML directive":        "",
	"found incompatible YAML document":       "",
	"found undefined tag handle":             "",
}

// syntax records a YAML syntax error. The YAML library reports a line but no
// column, so the error has none.
func (p *parser) syntax(err error) {
	e := &Error{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: ErrSyntax}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
		if hint, ok := parserProblems[m[2]]; ok {
			e.Line++
			if hint != "" {
				e.Msg += " (" + hint + ")"
			}
		}
	}
	p.errs = append(p.errs, e)
}

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// top validates the root mapping and fills f.
func (p *parser) top(root *yaml.Node, f *File) {
	pairs, ok := p.mapping(root, "the scenario file", topKeys)
	if !ok {
		return
	}
	var defaultProfile, profiles *pair
	var defaults workloadSpec
	for i, kv := range pairs {
		switch kv.key.Value {
		case keyDefaultProfile:
			defaultProfile = &pairs[i]
		case keyDefaults:
			defaults = p.workloadMapping(kv.val, keyDefaults)
		case keyProfiles:
			profiles = &pairs[i]
		case keyHosts:
			p.hosts(kv.val, f)
		}
	}
	if profiles == nil {
		p.add(root, ErrMissingKey, "", "the file has no %s mapping", keyProfiles)
		return
	}
	names, ok := p.profiles(profiles.val, defaults, f)
	if defaultProfile == nil {
		return
	}
	name, valid := p.str(defaultProfile.val, keyDefaultProfile, "the name of a profile: "+strings.Join(names, ", "))
	if !valid || !ok {
		return
	}
	if !slices.Contains(names, name) {
		p.add(defaultProfile.val, ErrUnknownProfile, strings.Join(names, ", "),
			"%s %q is not a profile of this file", keyDefaultProfile, name)
		return
	}
	f.DefaultProfile = name
}

// hosts validates the hosts mapping: where each side runs ("local" or an
// SSH destination) and the receiver's data address.
func (p *parser) hosts(n *yaml.Node, f *File) {
	pairs, ok := p.mapping(n, keyHosts, hostKeys)
	if !ok {
		return
	}
	const allowed = "local, or an SSH destination user@host[:port]"
	for _, kv := range pairs {
		v, ok := p.str(kv.val, keyHosts+"."+kv.key.Value, allowed)
		if !ok {
			continue
		}
		if v == "" || strings.ContainsAny(v, " \t'\"`$;|&<>") {
			p.add(kv.val, ErrBadValue, allowed, "%s.%s %q is not a host", keyHosts, kv.key.Value, v)
			continue
		}
		switch kv.key.Value {
		case keyHostSender:
			f.Hosts.Sender = v
		case keyHostReceiver:
			f.Hosts.Receiver = v
		case keyDataAddress:
			f.Hosts.DataAddress = v
		}
	}
}

// profiles validates the profiles mapping, appends the valid profiles to
// f.profiles, and returns every profile name with ok false when the mapping
// itself is unusable.
func (p *parser) profiles(n *yaml.Node, defaults workloadSpec, f *File) ([]string, bool) {
	pairs, ok := p.mapping(n, keyProfiles, nil)
	if !ok {
		return nil, false
	}
	if len(pairs) == 0 {
		p.add(n, ErrMissingKey, "", "%s defines no profile", keyProfiles)
		return nil, false
	}
	names := make([]string, 0, len(pairs))
	for _, kv := range pairs {
		names = append(names, kv.key.Value)
		if !profileName.MatchString(kv.key.Value) {
			p.add(kv.key, ErrBadValue, allowedName, "profile name %q is not allowed", kv.key.Value)
		}
		if prof, ok := p.profile(kv.key, kv.val, defaults); ok {
			f.profiles = append(f.profiles, prof)
		}
	}
	return names, true
}

// profile validates one profile and merges the defaults into it.
func (p *parser) profile(key, val *yaml.Node, defaults workloadSpec) (profile, bool) {
	before := len(p.errs)
	what := fmt.Sprintf("profile %q", key.Value)
	pairs, ok := p.mapping(val, what, profileKeys)
	if !ok {
		return profile{}, false
	}
	prof := profile{name: key.Value, axes: DefaultAxisValues()}
	var own workloadSpec
	seen := map[string]bool{}
	for _, kv := range pairs {
		k := kv.key.Value
		seen[k] = true
		spec, isAxis := specOf(k)
		switch {
		case k == keyDescription:
			prof.description, _ = p.str(kv.val, keyDescription, "")
		case isAxis:
			p.axis(&prof.axes, k, spec, kv.val)
		default:
			own.set(p, kv)
		}
	}
	own.checkThroughput(p, what)
	for _, axis := range []string{AxisProtocol, AxisSize} {
		if !seen[axis] {
			spec, _ := specOf(axis)
			p.add(key, ErrMissingKey, "a list of "+spec.allowed(), "%s has no %s axis", what, axis)
		}
	}
	prof.runs, prof.workload = p.merge(own, defaults)
	if len(p.errs) > before {
		return profile{}, false
	}
	if n := cellCount(prof.axes); n > MaxCells {
		p.add(key, ErrBadValue, fmt.Sprintf("at most %d cells", MaxCells), "%s expands to %d cells", what, n)
		return profile{}, false
	}
	return prof, true
}

// cellCount is AxisValues.Count without overflow: it stops growing past
// MaxCells.
func cellCount(a AxisValues) int {
	n := 1
	for _, l := range []int{len(a.Engine), len(a.Pattern), len(a.Protocol), len(a.Size),
		len(a.OutBatchSize), len(a.WriteBatching), len(a.Sockets), len(a.Processes), len(a.Rate)} {
		n *= l
		if n > MaxCells {
			return n
		}
	}
	return n
}

// axis validates the list of one axis and stores it in a.
func (p *parser) axis(a *AxisValues, axis string, spec axisSpec, n *yaml.Node) {
	switch axis {
	case AxisEngine:
		list(p, &a.Engine, n, axis, spec, p.wordItem)
	case AxisPattern:
		list(p, &a.Pattern, n, axis, spec, p.wordItem)
	case AxisProtocol:
		list(p, &a.Protocol, n, axis, spec, p.wordItem)
	case AxisSize:
		list(p, &a.Size, n, axis, spec, p.intItem)
	case AxisOutBatchSize:
		list(p, &a.OutBatchSize, n, axis, spec, p.intItem)
	case AxisWriteBatching:
		list(p, &a.WriteBatching, n, axis, spec, p.boolItem)
	case AxisSockets:
		list(p, &a.Sockets, n, axis, spec, p.intItem)
	case AxisProcesses:
		list(p, &a.Processes, n, axis, spec, p.intItem)
	case AxisRate:
		list(p, &a.Rate, n, axis, spec, p.intItem)
	}
}

// list validates a non-empty sequence of distinct values of one axis and
// stores it in dst when it is valid; item checks one element and returns its
// value and canonical text.
func list[T any](p *parser, dst *[]T, n *yaml.Node, axis string, spec axisSpec,
	item func(n *yaml.Node, axis string, spec axisSpec) (T, string, bool)) {
	seq := deref(n)
	if seq.Kind != yaml.SequenceNode {
		p.add(n, ErrBadType, "a list of "+spec.allowed(), "%s must be a list, not %s", axis, describe(seq))
		return
	}
	if len(seq.Content) == 0 {
		p.add(n, ErrBadValue, "at least one of "+spec.allowed(), "%s is empty", axis)
		return
	}
	ok := true
	out := make([]T, 0, len(seq.Content))
	first := map[string]*yaml.Node{}
	for _, it := range seq.Content {
		v, text, good := item(it, axis, spec)
		if !good {
			ok = false
			continue
		}
		if f, dup := first[text]; dup {
			p.add(it, ErrDuplicate, "", "%s %s is listed twice (first at %d:%d)", axis, text, f.Line, f.Column)
			ok = false
			continue
		}
		first[text] = it
		out = append(out, v)
	}
	if ok {
		*dst = out
	}
}

func (p *parser) wordItem(n *yaml.Node, axis string, spec axisSpec) (string, string, bool) {
	v := deref(n)
	if !isScalar(v, "!!str") {
		p.add(n, ErrBadType, spec.allowed(), "%s must be a word, not %s", axis, describe(v))
		return "", "", false
	}
	if msg, ok := spec.checkWord(axis, v.Value); !ok {
		p.add(n, ErrBadValue, spec.allowed(), "%s", msg)
		return "", "", false
	}
	return v.Value, v.Value, true
}

func (p *parser) intItem(n *yaml.Node, axis string, spec axisSpec) (int, string, bool) {
	x, ok := p.int(n, axis, spec.min, spec.max, spec.allowed())
	return x, strconv.Itoa(x), ok
}

func (p *parser) boolItem(n *yaml.Node, axis string, spec axisSpec) (bool, string, bool) {
	v := deref(n)
	var b bool
	if !isScalar(v, "!!bool") || v.Decode(&b) != nil {
		p.add(n, ErrBadType, spec.allowed(), "%s must be true or false, not %s", axis, describe(v))
		return false, "", false
	}
	return b, strconv.FormatBool(b), true
}

// int validates an integer scalar in min..max.
func (p *parser) int(n *yaml.Node, what string, min, max int, allowed string) (int, bool) {
	v := deref(n)
	if isScalar(v, "!!float") && bigInt.MatchString(v.Value) {
		p.add(n, ErrBadValue, allowed, "%s %s is too large", what, v.Value)
		return 0, false
	}
	if !isScalar(v, "!!int") {
		p.add(n, ErrBadType, allowed, "%s must be an integer, not %s", what, describe(v))
		return 0, false
	}
	var x int64
	if err := v.Decode(&x); err != nil {
		p.add(n, ErrBadValue, allowed, "%s %s is not a 64-bit integer", what, v.Value)
		return 0, false
	}
	if msg, ok := rangeMsg(what, x, min, max); !ok {
		p.add(n, ErrBadValue, allowed, "%s", msg)
		return 0, false
	}
	return int(x), true
}

// rangeMsg says why v is outside min..max (max math.MaxInt: no upper bound).
func rangeMsg(what string, v int64, min, max int) (string, bool) {
	switch {
	case v < int64(min) && min == 0:
		return fmt.Sprintf("%s %d is negative", what, v), false
	case v < int64(min):
		return fmt.Sprintf("%s %d is below %d", what, v, min), false
	case v > int64(max):
		return fmt.Sprintf("%s %d is above %d", what, v, max), false
	}
	return "", true
}

// duration validates a positive Go duration string.
func (p *parser) duration(n *yaml.Node, what string) (Duration, bool) {
	v := deref(n)
	if !isScalar(v, "!!str") {
		p.add(n, ErrBadType, allowedDuration, "%s must be a duration with a unit, not %s", what, describe(v))
		return 0, false
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		p.add(n, ErrBadValue, allowedDuration, "%s %q is not a duration", what, v.Value)
		return 0, false
	}
	if d <= 0 {
		p.add(n, ErrBadValue, allowedDuration, "%s %s is not positive", what, v.Value)
		return 0, false
	}
	return Duration(d), true
}

// str validates a string scalar.
func (p *parser) str(n *yaml.Node, what, allowed string) (string, bool) {
	v := deref(n)
	if !isScalar(v, "!!str") {
		p.add(n, ErrBadType, allowed, "%s must be a string, not %s", what, describe(v))
		return "", false
	}
	return v.Value, true
}

// mapping checks that n is a mapping with plain, distinct keys, reports the
// keys not in keys (nil: any key), and returns the remaining pairs in order.
func (p *parser) mapping(n *yaml.Node, what string, keys []string) ([]pair, bool) {
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		allowed := "a mapping"
		if keys != nil {
			allowed += " with keys " + strings.Join(keys, ", ")
		}
		p.add(n, ErrBadType, allowed, "%s must be a mapping, not %s", what, describe(m))
		return nil, false
	}
	first := map[string]*yaml.Node{}
	var out []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, ErrBadType, "", "a key in %s must be a plain word, not %s", what, describe(k))
			continue
		}
		if f, dup := first[k.Value]; dup {
			p.add(k, ErrDuplicate, "", "key %q appears twice in %s (first at %d:%d)", k.Value, what, f.Line, f.Column)
			continue
		}
		first[k.Value] = k
		if keys != nil && !slices.Contains(keys, k.Value) {
			p.add(k, ErrUnknownKey, strings.Join(keys, ", "), "unknown key %q in %s", k.Value, what)
			continue
		}
		out = append(out, pair{k, v})
	}
	return out, true
}

// field is one workload setting: key is nil when the mapping does not set
// it; ok is false when it is set to an invalid value.
type field[T any] struct {
	key *yaml.Node
	val T
	ok  bool
}

// workloadSpec is the workload settings of the defaults or of one profile.
type workloadSpec struct {
	runs, warmup, throughputMessages, latency field[int]
	throughputDuration, timeout               field[Duration]
}

// workloadMapping validates the defaults mapping.
func (p *parser) workloadMapping(n *yaml.Node, what string) workloadSpec {
	var w workloadSpec
	pairs, ok := p.mapping(n, what, workloadKeys)
	if !ok {
		return w
	}
	for _, kv := range pairs {
		w.set(p, kv)
	}
	w.checkThroughput(p, what)
	return w
}

// set validates one workload key and stores it.
func (w *workloadSpec) set(p *parser, kv pair) {
	k := kv.key.Value
	count := func(f *field[int], min int, allowed string) {
		f.key = kv.key
		f.val, f.ok = p.int(kv.val, k, min, math.MaxInt, allowed)
	}
	dur := func(f *field[Duration]) {
		f.key = kv.key
		f.val, f.ok = p.duration(kv.val, k)
	}
	switch k {
	case keyRuns:
		count(&w.runs, 1, allowedCount1)
	case keyWarmup:
		count(&w.warmup, 0, allowedCount0)
	case keyThroughputMessages:
		count(&w.throughputMessages, 1, allowedCount1)
	case keyLatency:
		count(&w.latency, 1, allowedCount1)
	case keyThroughputDuration:
		dur(&w.throughputDuration)
	case keyTimeout:
		dur(&w.timeout)
	}
}

// checkThroughput reports a mapping that sets both throughput keys, at the
// later of the two.
func (w *workloadSpec) checkThroughput(p *parser, what string) {
	m, d := w.throughputMessages.key, w.throughputDuration.key
	if m == nil || d == nil {
		return
	}
	later := d
	if m.Line > d.Line || (m.Line == d.Line && m.Column > d.Column) {
		later = m
	}
	p.add(later, ErrBadValue, allowedThroughput, "%s sets both %s and %s", what, keyThroughputMessages, keyThroughputDuration)
}

// merge combines a profile's own workload settings with the file's defaults
// and, for what neither gives, the built-in ones ([DefaultWorkload]), so that
// a small file needs no defaults mapping.
func (p *parser) merge(own, defaults workloadSpec) (int, Workload) {
	w := DefaultWorkload()
	runs := pick(own.runs, defaults.runs, DefaultRuns)
	w.WarmupMessages = pick(own.warmup, defaults.warmup, w.WarmupMessages)
	w.LatencyRoundTrips = pick(own.latency, defaults.latency, w.LatencyRoundTrips)
	w.Timeout = pick(own.timeout, defaults.timeout, w.Timeout)
	// The throughput keys go together: whoever sets either sets both.
	src := own
	if own.throughputMessages.key == nil && own.throughputDuration.key == nil {
		src = defaults
	}
	switch {
	case src.throughputMessages.key != nil:
		w.ThroughputMessages, w.ThroughputDuration = src.throughputMessages.val, 0
	case src.throughputDuration.key != nil:
		w.ThroughputMessages, w.ThroughputDuration = 0, src.throughputDuration.val
	}
	return runs, w
}

// pick returns the profile's own setting, else the file's default, else
// the built-in one.
func pick[T any](own, def field[T], builtin T) T {
	switch {
	case own.key != nil:
		return own.val
	case def.key != nil:
		return def.val
	}
	return builtin
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func isScalar(n *yaml.Node, tag string) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == tag
}

// describe names what a node holds, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "an empty value"
		case "!!str":
			return fmt.Sprintf("the string %q", v)
		case "!!int":
			return "the integer " + v
		case "!!float":
			return "the number " + v
		case "!!bool":
			return "the boolean " + v
		}
		return strconv.Quote(v)
	}
	return "an alias"
}
