package launch

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Kubernetes describes an Indexed Job (one completion index per shard) and
// a merge Job for a sweep, sharing one PersistentVolumeClaim.
type Kubernetes struct {
	Sweep
	// Image is the container image holding the tinyscale binary (as
	// `tinyscale` on its PATH).
	Image string
	// Claim is the PersistentVolumeClaim mounted at MountPath in every pod:
	// shards/, cache/, results.db and report/ are written there.
	Claim string
	// Parallel is the Job's parallelism; 0 means all indices at once.
	Parallel int
	// CPUs, when positive, is each training pod's CPU request and limit.
	CPUs int
	// BackoffLimitPerIndex is how often one index is retried (default 3).
	BackoffLimitPerIndex int
}

// Where things are inside the pods.
const (
	MountPath  = "/results"
	ConfigPath = "/etc/tinyscale"
)

var dnsLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// jobName makes a DNS-1123 label from the sweep's name.
func jobName(name string) string {
	s := strings.Trim(dnsLabel.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if s == "" {
		s = "sweep"
	}
	s = "tinyscale-" + s
	if len(s) > 50 { // leave room for "-merge" and the pod suffixes
		s = strings.TrimRight(s[:50], "-")
	}
	return s
}

// dnsSubdomain is an RFC 1123 subdomain, the form of a PersistentVolumeClaim's name.
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate checks the description.
func (k Kubernetes) Validate() error {
	switch {
	case len(k.Runs) == 0:
		return errors.New("launch kubernetes: the experiments file has no runs")
	case k.Image == "":
		return errors.New("launch kubernetes: --image is required (an image with tinyscale on its PATH)")
	case k.Claim == "":
		return errors.New("launch kubernetes: --claim is required (a PersistentVolumeClaim every pod mounts)")
	case strings.IndexFunc(k.Image, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("launch kubernetes: --image %q: an image reference has no spaces or control characters (e.g. registry.lab/tinyscale:v1)", k.Image)
	case len(k.Claim) > 253 || !dnsSubdomain.MatchString(k.Claim):
		return fmt.Errorf("launch kubernetes: --claim %q is not a valid PersistentVolumeClaim name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)", k.Claim)
	case k.Parallel < 0 || k.CPUs < 0 || k.Tasks < 0 || k.BackoffLimitPerIndex < 0:
		return fmt.Errorf("launch kubernetes: --parallel %d, --cpus %d and --tasks %d must not be negative", k.Parallel, k.CPUs, k.Tasks)
	}
	return nil
}

// obj is a JSON object of a manifest.
type obj = map[string]any

// Manifests returns a v1 List (JSON, which is also YAML) of: a ConfigMap
// holding the experiments file, the Indexed Job that trains the shards and
// the merge Job, for `kubectl apply -f -`. experiments is the file's text.
//
// The merge Job's pod merges (init container, `merge --require-finished`) and
// then reports; until every run is done or failed it fails and the Job controller
// retries it with back-off, so it finishes shortly after the last index.
func (k Kubernetes) Manifests(experiments []byte) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	name := jobName(k.Name)
	n := k.tasks()
	par := k.Parallel
	if par == 0 || par > n {
		par = n
	}
	backoff := k.BackoffLimitPerIndex
	if backoff == 0 {
		backoff = 3
	}
	file := path.Join(ConfigPath, "experiments.yaml")
	volumes := []obj{
		{"name": "results", "persistentVolumeClaim": obj{"claimName": k.Claim}},
		{"name": "experiments", "configMap": obj{"name": name}},
	}
	mounts := []obj{
		{"name": "results", "mountPath": MountPath},
		{"name": "experiments", "mountPath": ConfigPath, "readOnly": true},
	}
	train := obj{
		"name":    "train",
		"image":   k.Image,
		"command": []string{"tinyscale"},
		"args": []string{"run", "-f", file, "--shard", "auto",
			"--db", path.Join(MountPath, "shards", "task-$(JOB_COMPLETION_INDEX).db"),
			"--cache", path.Join(MountPath, "cache")},
		"env": []obj{
			// Declared explicitly so that $(JOB_COMPLETION_INDEX) in args expands.
			{"name": "JOB_COMPLETION_INDEX", "valueFrom": obj{"fieldRef": obj{
				"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}},
			{"name": "TINYSCALE_SHARD_COUNT", "value": strconv.Itoa(n)},
		},
		"volumeMounts": mounts,
	}
	if k.CPUs > 0 {
		c := strconv.Itoa(k.CPUs)
		train["resources"] = obj{"requests": obj{"cpu": c}, "limits": obj{"cpu": c}}
		train["env"] = append(train["env"].([]obj), obj{"name": "GOMAXPROCS", "value": c})
	}
	shards := make([]string, n)
	for i := range shards {
		shards[i] = path.Join(MountPath, "shards", "task-"+strconv.Itoa(i)+".db")
	}
	results := path.Join(MountPath, "results.db")
	labels := obj{"app.kubernetes.io/name": "tinyscale", "tinyscale/sweep": name}
	indexed := obj{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   obj{"name": name, "labels": labels},
		"spec": obj{
			"completionMode":       "Indexed",
			"completions":          n,
			"parallelism":          par,
			"backoffLimitPerIndex": backoff,
			"maxFailedIndexes":     n,
			"podReplacementPolicy": "Failed",
			"template": obj{
				"metadata": obj{"labels": labels},
				"spec": obj{
					"restartPolicy": "Never",
					// SIGTERM (eviction, preemption, deletion) checkpoints and
					// releases the lease; give it time to finish.
					"terminationGracePeriodSeconds": 120,
					"containers":                    []obj{train},
					"volumes":                       volumes,
				},
			},
		},
	}
	merge := obj{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   obj{"name": name + "-merge", "labels": labels},
		"spec": obj{
			"backoffLimit": 100,
			"template": obj{
				"metadata": obj{"labels": labels},
				"spec": obj{
					"restartPolicy": "Never",
					"initContainers": []obj{{
						"name": "merge", "image": k.Image, "command": []string{"tinyscale"},
						"args":         append([]string{"merge", "--require-finished", "-o", results}, shards...),
						"volumeMounts": mounts,
					}},
					"containers": []obj{{
						"name": "report", "image": k.Image, "command": []string{"tinyscale"},
						"args":         []string{"report", "--db", results, "--out", path.Join(MountPath, "report")},
						"volumeMounts": mounts,
					}},
					"volumes": volumes,
				},
			},
		},
	}
	config := obj{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   obj{"name": name, "labels": labels},
		"data":       obj{"experiments.yaml": string(experiments)},
	}
	list := obj{"apiVersion": "v1", "kind": "List", "items": []obj{config, indexed, merge}}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("launch kubernetes: %w", err)
	}
	return append(b, '\n'), nil
}
