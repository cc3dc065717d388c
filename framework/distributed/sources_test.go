package distributed

import (
	"strings"
	"testing"
)

// envOf is a getenv over key, value pairs.
func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// slurmStep is what srun sets in task 1 of a 4-task step over two nodes
// (as slurmd 22.05 sets it: scripts/slurm-test.sh prints it).
var slurmStep = []string{"SLURM_JOB_ID", "123456", "SLURM_STEP_ID", "0", "SLURM_PROCID", "1", "SLURM_LOCALID", "1",
	"SLURM_NTASKS", "4", "SLURM_STEP_NUM_TASKS", "4", "SLURM_NODELIST", "gpu[07-08]", "SLURM_STEP_NODELIST", "gpu[07-08]"}

// torchrun is what torchrun sets in rank 2 of 8.
var torchrun = []string{"RANK", "2", "WORLD_SIZE", "8", "LOCAL_RANK", "2", "MASTER_ADDR", "10.0.0.1", "MASTER_PORT", "29400"}

// TestPlacePrecedence checks the order FromEnv documents: MAMBAKIT_RANK,
// then the launcher flags, then torchrun's variables, then Slurm's.
func TestPlacePrecedence(t *testing.T) {
	mk := []string{EnvRank, "3", EnvWorld, "4", EnvLocalRank, "0", EnvCoordinator, "h0:5000"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		env   []string
		flags Flags
		want  *Job // nil: a single process (or a launcher)
	}{
		{"nothing", nil, Flags{}, nil},
		{"mambakit", mk, Flags{}, &Job{Rank: 3, World: 4, LocalRank: 0, Coordinator: "h0:5000"}},
		{"mambakit over the launcher flags (a launched rank carries them)", mk, Flags{Launch: true}, &Job{Rank: 3, World: 4, Coordinator: "h0:5000"}},
		{"--coordinator over every variable", mk, Flags{Coordinator: "f:1"}, &Job{Rank: 3, World: 4, Coordinator: "f:1"}},
		{"mambakit over torchrun and Slurm", cat(slurmStep, torchrun, mk), Flags{}, &Job{Rank: 3, World: 4, Coordinator: "h0:5000"}},
		{"the launcher flags over torchrun and Slurm", cat(slurmStep, torchrun), Flags{Launch: true}, nil},
		{"torchrun", torchrun, Flags{}, &Job{Rank: 2, World: 8, LocalRank: 2, Coordinator: "10.0.0.1:29400"}},
		{"torchrun's agent holds MASTER_PORT: the next port", cat(torchrun, []string{"TORCHELASTIC_USE_AGENT_STORE", "True"}), Flags{}, &Job{Rank: 2, World: 8, LocalRank: 2, Coordinator: "10.0.0.1:29401"}},
		{"torchrun over Slurm", cat(slurmStep, torchrun), Flags{}, &Job{Rank: 2, World: 8, LocalRank: 2, Coordinator: "10.0.0.1:29400"}},
		{"MAMBAKIT_COORDINATOR over MASTER_ADDR", cat(torchrun, []string{EnvCoordinator, "c:7"}), Flags{}, &Job{Rank: 2, World: 8, LocalRank: 2, Coordinator: "c:7"}},
		{"Slurm: the first node, a port from the job id", slurmStep, Flags{}, &Job{Rank: 1, World: 4, LocalRank: 1, Coordinator: "gpu07:18456"}},
		{"Slurm with MASTER_ADDR and MASTER_PORT", cat(slurmStep, []string{"MASTER_ADDR", "head", "MASTER_PORT", "6000"}), Flags{}, &Job{Rank: 1, World: 4, LocalRank: 1, Coordinator: "head:6000"}},
		{"Slurm with MASTER_PORT only", cat(slurmStep, []string{"MASTER_PORT", "6000"}), Flags{}, &Job{Rank: 1, World: 4, LocalRank: 1, Coordinator: "gpu07:6000"}},
		{"Slurm: the job's node list without the step's", []string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_NODELIST", "n1,n2"}, Flags{}, &Job{Rank: 0, World: 2, Coordinator: "n1:29500"}},
		{"Slurm's batch script is not a rank", []string{"SLURM_JOB_ID", "5", "SLURM_PROCID", "0", "SLURM_NTASKS", "4", "SLURM_NODELIST", "n1"}, Flags{}, nil},
		{"an srun of one task is a single process", []string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "1", "SLURM_NODELIST", "n1"}, Flags{}, nil},
		{"torchrun with one process is a single process", []string{"RANK", "0", "WORLD_SIZE", "1", "LOCAL_RANK", "0"}, Flags{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := FromEnv(envOf(c.env...), c.flags)
			if err != nil {
				t.Fatal(err)
			}
			if (d == nil) != (c.want == nil) {
				t.Fatalf("got %+v, want %+v", d, c.want)
			}
			if d != nil && (d.Rank != c.want.Rank || d.World != c.want.World || d.LocalRank != c.want.LocalRank || d.Coordinator != c.want.Coordinator) {
				t.Fatalf("got rank %d of %d, local %d, coordinator %q; want %+v", d.Rank, d.World, d.LocalRank, d.Coordinator, c.want)
			}
		})
	}
}

// TestPlaceErrors checks that a variable with a bad value stops the
// process with one line naming it.
func TestPlaceErrors(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"RANK", "x", "WORLD_SIZE", "2"}, `RANK="x"`},
		{[]string{"RANK", "0", "WORLD_SIZE", "two"}, `WORLD_SIZE="two"`},
		{[]string{"RANK", "4", "WORLD_SIZE", "4", "MASTER_ADDR", "a", "MASTER_PORT", "1"}, "RANK=4 with WORLD_SIZE=4: want rank < world size"},
		{[]string{"RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a"}, "MASTER_ADDR or MASTER_PORT is not"},
		{[]string{"RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "70000"}, `MASTER_PORT="70000"`},
		{[]string{"RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "65535", "TORCHELASTIC_USE_AGENT_STORE", "True"}, "there is none"},
		{[]string{"RANK", "0", "WORLD_SIZE", "2", "LOCAL_RANK", "-1", "MASTER_ADDR", "a", "MASTER_PORT", "1"}, `LOCAL_RANK="-1"`},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_NODELIST", "n[1-"}, "SLURM_NODELIST: node list \"n[1-\""},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "2", "SLURM_STEP_NODELIST", "n[a-b]"}, "SLURM_STEP_NODELIST"},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "2"}, "MAMBAKIT_COORDINATOR is unset"},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "2", "SLURM_STEP_NUM_TASKS", "2", "SLURM_NODELIST", "n"}, "SLURM_PROCID=2 with SLURM_STEP_NUM_TASKS=2"},
	} {
		_, err := FromEnv(envOf(c.env...), Flags{})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line with %q", c.env, err, c.want)
		}
	}
}

func TestSlurmPort(t *testing.T) {
	for id, want := range map[string]int{"": 29500, "7": 15007, "123456": 18456, "99999999": 24999, "12_3": 29500} {
		if got := slurmPort(id); got != want {
			t.Errorf("slurmPort(%q) = %d, want %d", id, got, want)
		}
	}
}
