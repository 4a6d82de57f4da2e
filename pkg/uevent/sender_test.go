package uevent

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSender(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Sender
		want string // "" for accepted, else a substring of the error
	}{
		{name: "kernel", s: Sender{PortID: 0, Groups: 1, HasCred: true, UID: 0, PID: 0}},
		{name: "kernel without groups", s: Sender{HasCred: true}},
		{name: "process port id", s: Sender{PortID: 4242, Groups: 1, HasCred: true}, want: "port id 4242"},
		{name: "process port id and uid", s: Sender{PortID: 7, HasCred: true, UID: 1000}, want: "port id 7"},
		{name: "no credentials", s: Sender{}, want: "no SCM_CREDENTIALS"},
		{name: "non-root uid", s: Sender{HasCred: true, UID: 1000, PID: 77}, want: "uid 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSender(tc.s)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckSender(%+v) = %v, want nil", tc.s, err)
			case tc.want != "" && err == nil:
				t.Errorf("CheckSender(%+v) = nil, want an error mentioning %q", tc.s, tc.want)
			case tc.want != "" && (!errors.Is(err, ErrForged) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckSender(%+v) = %v, want ErrForged mentioning %q", tc.s, err, tc.want)
			}
		})
	}
}
