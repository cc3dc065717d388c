package distributed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Flags are the train command's job flags that bear on a process's place
// (FromEnv): they win over the torchrun and Slurm variables.
type Flags struct {
	// Launch is set when this process starts its host's ranks itself
	// (train --gpus or --nodes above 1).
	Launch bool
	// Coordinator is --coordinator: rank 0's HOST:PORT, over any variable.
	Coordinator string
}

// source names the variables that place a process, as one launcher sets
// them.
type source struct{ rank, world, local string }

var (
	mambakitSource = source{EnvRank, EnvWorld, EnvLocalRank}
	torchrunSource = source{"RANK", "WORLD_SIZE", "LOCAL_RANK"}
	// slurmSource's world falls back to SLURM_NTASKS (FromEnv).
	slurmSource = source{"SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"}
)

// defaultMasterPort is torchrun's port, for a Slurm job without an id.
const defaultMasterPort = 29500

// coordinator finds rank 0's HOST:PORT, first found: the flag,
// MAMBAKIT_COORDINATOR, MASTER_ADDR with MASTER_PORT (the port after it
// under torchrun, whose agent holds MASTER_PORT), and in a Slurm step the
// first host of its node list. "" when none says it.
func coordinator(getenv func(string) string, flag string, src source) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if c := getenv(EnvCoordinator); c != "" {
		return c, nil
	}
	addr, port := getenv("MASTER_ADDR"), getenv("MASTER_PORT")
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("MASTER_PORT=%q: want a port number, 1 to 65535", port)
		}
	}
	if src != slurmSource {
		if addr == "" || port == "" {
			return "", nil
		}
		if getenv("TORCHELASTIC_USE_AGENT_STORE") == "True" {
			// torchrun's agent listens on MASTER_PORT itself (its
			// TCPStore, which torch's workers share): rank 0 takes the
			// next port.
			p, _ := strconv.Atoi(port)
			if p == 65535 {
				return "", errors.New("MASTER_PORT=65535 is torchrun's store: rank 0 listens on the next port, and there is none")
			}
			port = strconv.Itoa(p + 1)
		}
		return net.JoinHostPort(addr, port), nil
	}
	if addr == "" {
		name := "SLURM_STEP_NODELIST"
		list := getenv(name)
		if list == "" {
			name, list = "SLURM_NODELIST", getenv("SLURM_NODELIST")
		}
		if list == "" {
			return "", nil
		}
		host, err := FirstHost(list)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		addr = host
	}
	if port == "" {
		port = strconv.Itoa(slurmPort(getenv("SLURM_JOB_ID")))
	}
	return net.JoinHostPort(addr, port), nil
}

// slurmPort is the coordinator's port in a Slurm job without MASTER_PORT:
// 15000 plus the job id's last four digits, so that two jobs sharing a
// node do not meet on one port (as PyTorch Lightning does); 29500
// without a job id.
func slurmPort(jobID string) int {
	id, err := strconv.ParseUint(jobID, 10, 64)
	if err != nil {
		return defaultMasterPort
	}
	return 15000 + int(id%10000)
}
