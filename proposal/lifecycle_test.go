package proposal

import (
	"errors"
	"testing"
)

// TestTransitionTable checks every (state, step) pair against the
// lifecycle: what each leads to, and that every other pair is refused.
func TestTransitionTable(t *testing.T) {
	allowed := map[State]map[Step]State{
		StateOpen: {StepCollectApprove: StateOpen, StepCollectReject: StateOpen, StepThresholdMet: StateApproved, StepOutOfReach: StateRejected,
			StepWithdraw: StateWithdrawn, StepExpire: StateExpired},
		StateApproved: {StepCollectApprove: StateApproved, StepCollectReject: StateApproved, StepThresholdMet: StateApproved, StepFinalize: StateFinalized,
			StepWithdraw: StateWithdrawn, StepExpire: StateExpired},
		StateFinalized: {StepBroadcast: StateBroadcast},
	}
	for _, s := range States {
		for _, step := range Steps {
			got, err := Transition(s, step)
			want, ok := allowed[s][step]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s + %s = %s, %v; want %s", s, step, got, err, want)
			case !ok && !errors.Is(err, ErrTransition):
				t.Errorf("%s + %s = %s, %v; want refused", s, step, got, err)
			case !ok && got != s:
				t.Errorf("a refused %s + %s moved the state to %s", s, step, got)
			}
		}
	}
	if _, err := Transition("pending", StepWithdraw); !errors.Is(err, ErrTransition) {
		t.Fatal("an unknown state was taken")
	}
}

func TestEndsAndReleases(t *testing.T) {
	for _, s := range States {
		if s.Releases() && !s.End() {
			t.Errorf("%s releases claims but is not an end", s)
		}
		if s.End() {
			for _, step := range Steps {
				if _, err := Transition(s, step); err == nil {
					t.Errorf("the end %s allows %s", s, step)
				}
			}
		}
	}
}

func TestTallyNeverShowsMoreThanTheThreshold(t *testing.T) {
	cases := []struct {
		t    Tally
		want string
		ok   bool
	}{
		{Tally{Approvals: 3, Threshold: 2, Signers: 3}, "2/2 of 3", true},
		{Tally{Approvals: 1, Rejections: 2, Threshold: 2, Signers: 3}, "1/2 of 3", false},
		{Tally{Approvals: 0, Rejections: 1, Threshold: 2, Signers: 3}, "0/2 of 3", true},
	}
	for _, c := range cases {
		if c.t.String() != c.want || c.t.Reachable() != c.ok {
			t.Errorf("%+v: %s reachable=%v, want %s %v", c.t, c.t.String(), c.t.Reachable(), c.want, c.ok)
		}
	}
}
