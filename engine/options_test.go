package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDefaultOptionsValid(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("DefaultOptions().Validate() = %v", err)
	}
	if o.OutBatchSize != 8192 || !o.WriteBatching || o.InBatchSize != 8192 || o.SndHWM != 1000 || o.RcvHWM != 1000 || o.MaxMsgSize != -1 {
		t.Errorf("DefaultOptions() = %+v, want OutBatchSize 8192, WriteBatching on, InBatchSize 8192, HWMs 1000, MaxMsgSize -1", o)
	}
}

func TestOptionsOutOfRange(t *testing.T) {
	cases := []struct {
		option  string
		set     func(*Options)
		allowed string // must appear in the message
	}{
		{"OutBatchSize", func(o *Options) { o.OutBatchSize = 0 }, "1.."},
		{"OutBatchSize", func(o *Options) { o.OutBatchSize = -5 }, "1.."},
		{"OutBatchSize", func(o *Options) { o.OutBatchSize = maxBatchSize + 1 }, fmt.Sprint(maxBatchSize)},
		{"InBatchSize", func(o *Options) { o.InBatchSize = 63 }, "64.."},
		{"InBatchSize", func(o *Options) { o.InBatchSize = maxBatchSize + 1 }, fmt.Sprint(maxBatchSize)},
		{"SndHWM", func(o *Options) { o.SndHWM = -1 }, ">= 0"},
		{"RcvHWM", func(o *Options) { o.RcvHWM = -1 }, ">= 0"},
		{"MaxMsgSize", func(o *Options) { o.MaxMsgSize = -2 }, "-1"},
		{"ReconnectIvl", func(o *Options) { o.ReconnectIvl = 0 }, "> 0"},
		{"ReconnectIvl", func(o *Options) { o.ReconnectIvl = -time.Second }, "> 0"},
		{"ReconnectIvlMax", func(o *Options) { o.ReconnectIvlMax = -1 }, ">= 0"},
		{"SendTimeout", func(o *Options) { o.SendTimeout = -1 }, ">= 0"},
		{"RecvTimeout", func(o *Options) { o.RecvTimeout = -1 }, ">= 0"},
		{"Identity", func(o *Options) { o.Identity = bytes.Repeat([]byte("i"), 256) }, "0..255"},
		{"Identity", func(o *Options) { o.Identity = []byte{0, 'x'} }, "other than 0"},
	}
	for _, c := range cases {
		o := DefaultOptions()
		c.set(&o)
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: Validate accepted %+v", c.option, o)
			continue
		}
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%s: Validate = %v (%T), want an *OptionError for %s", c.option, err, err, c.option)
		}
		if !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: Validate = %v, does not wrap ErrBadOption", c.option, err)
		}
		if msg := err.Error(); !strings.Contains(msg, c.option) || !strings.Contains(msg, "allowed") || !strings.Contains(msg, c.allowed) {
			t.Errorf("%s: message %q should name the option and the allowed range (%q)", c.option, msg, c.allowed)
		}
		for _, typ := range []Type{PUSH, SUB} {
			s, nerr := NewSocket(typ, o)
			if s != nil || !errors.Is(nerr, ErrBadOption) {
				t.Errorf("%s: NewSocket(%s) = %v, %v; want nil and an error wrapping ErrBadOption", c.option, typ, s, nerr)
			}
			if s != nil {
				s.Close()
			}
		}
	}
}

func TestOptionsAtTheEdges(t *testing.T) {
	for _, set := range []func(*Options){
		func(o *Options) { o.OutBatchSize = 1 },
		func(o *Options) { o.InBatchSize = 64 },
		func(o *Options) { o.SndHWM, o.RcvHWM = 0, 0 },
		func(o *Options) { o.MaxMsgSize = 0 },
		func(o *Options) { o.ReconnectIvlMax = 0 },
		func(o *Options) { o.Linger = -1 },
		func(o *Options) { o.Identity = bytes.Repeat([]byte("i"), 255) },
	} {
		o := DefaultOptions()
		set(&o)
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want it accepted", o, err)
		}
	}
}

func TestNewSocketRefusesSubscribeOnNonSub(t *testing.T) {
	o := DefaultOptions()
	o.Subscribe = [][]byte{[]byte("a")}
	s, err := NewSocket(PUB, o)
	if s != nil || !errors.Is(err, ErrBadOption) {
		t.Fatalf("NewSocket(PUB) with Subscribe = %v, %v; want nil and an error wrapping ErrBadOption", s, err)
	}
	if _, err := NewSocket(Type(99), DefaultOptions()); err == nil {
		t.Fatal("NewSocket of an unknown type succeeded")
	}
}

func TestNewSocketCopiesOptions(t *testing.T) {
	o := testOptions()
	o.Identity = []byte("alice")
	s := newTestSocket(t, DEALER, func(p *Options) { *p = o })
	o.Identity[0] = 'X'
	if got := s.Options().Identity; string(got) != "alice" {
		t.Fatalf("changing the caller's Identity after NewSocket changed the socket's to %q", got)
	}
}

func TestParseType(t *testing.T) {
	for i, name := range typeNames {
		for _, s := range []string{name, strings.ToLower(name)} {
			got, err := ParseType(s)
			if err != nil || got != Type(i) || got.String() != name {
				t.Errorf("ParseType(%q) = %v, %v; want %s", s, got, err, name)
			}
		}
	}
	if _, err := ParseType("XPUB"); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Errorf("ParseType(XPUB) = %v, want an error listing the allowed types", err)
	}
}
