package manifest

import (
	"slices"

	"github.com/osbuild-vm/osbuild-vm/engine/pyjson"
)

// loadDevices reads "devices" in osbuild's order: repeated passes that
// take every device whose parent is already taken (v2.py sort_devices).
func (s *Stage) loadDevices(desc *pyjson.Object, path string) error {
	devs, err := getObject(desc, "devices", path)
	if err != nil {
		return err
	}
	parsed := map[string]*Device{}
	for _, name := range devs.Keys() {
		v, _ := devs.Get(name)
		d, err := parseDevice(name, v, jpath(path, "devices", name))
		if err != nil {
			return err
		}
		parsed[name] = d
	}
	order, err := sortDevices(devs.Keys(), parsed, jpath(path, "devices"))
	if err != nil {
		return err
	}
	s.Devices = map[string]*Device{}
	for _, name := range order {
		d := parsed[name]
		d.ID = d.computeID(s.Devices[d.Parent])
		s.Devices[name] = d
	}
	s.deviceOrder = order
	if len(order) == 0 {
		s.Devices = nil
	}
	return nil
}

func parseDevice(name string, v any, path string) (*Device, error) {
	desc, err := asObject(v, path)
	if err != nil {
		return nil, err
	}
	d := &Device{Name: name}
	if d.Type, err = needString(desc, "type", path); err != nil {
		return nil, err
	}
	if d.Parent, _, err = getString(desc, "parent", path); err != nil {
		return nil, err
	}
	ov, _ := desc.Get("options")
	if d.options, err = optionsValue(ov, jpath(path, "options")); err != nil {
		return nil, err
	}
	d.Options = raw(d.options)
	return d, nil
}

func sortDevices(todo []string, devs map[string]*Device, path string) ([]string, error) {
	var result []string
	todo = slices.Clone(todo)
	for len(todo) > 0 {
		var rest []string
		for _, name := range todo {
			parent := devs[name].Parent
			if parent != "" && !slices.Contains(result, parent) {
				if _, ok := devs[parent]; !ok {
					return nil, errorf(ErrReference, jpath(path, name, "parent"), "name a device of this stage",
						"unknown parent device %q", parent)
				}
				rest = append(rest, name)
				continue
			}
			result = append(result, name)
		}
		if len(rest) == len(todo) {
			return nil, errorf(ErrCycle, path, "device parents must not form a cycle", "devices %q are each other's parents", rest)
		}
		todo = rest
	}
	return result, nil
}

// loadMounts reads "mounts" (v2.py load_mount); a mount's source names a
// device of the same stage.
func (s *Stage) loadMounts(desc *pyjson.Object, path string) error {
	mounts, err := getArray(desc, "mounts", path)
	if err != nil {
		return err
	}
	for i, v := range mounts {
		mpath := jpath(path, "mounts", i)
		mnt, err := parseMount(v, mpath)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(s.Mounts, func(o *Mount) bool { return o.Name == mnt.Name }) {
			return errorf(ErrDuplicate, jpath(mpath, "name"), "give every mount of a stage its own name", "duplicated mount %q", mnt.Name)
		}
		var dev *Device
		if mnt.Source != "" {
			if dev = s.Devices[mnt.Source]; dev == nil {
				return errorf(ErrReference, jpath(mpath, "source"), "name a device of this stage",
					"unknown device %q for mount %q", mnt.Source, mnt.Name)
			}
		}
		mnt.ID = mnt.computeID(dev)
		s.Mounts = append(s.Mounts, mnt)
	}
	return nil
}

func parseMount(v any, path string) (*Mount, error) {
	desc, err := asObject(v, path)
	if err != nil {
		return nil, err
	}
	m := &Mount{}
	if m.Type, err = needString(desc, "type", path); err != nil {
		return nil, err
	}
	if m.Name, err = needString(desc, "name", path); err != nil {
		return nil, err
	}
	if m.Source, _, err = getString(desc, "source", path); err != nil {
		return nil, err
	}
	if m.Target, m.hasTarget, err = getString(desc, "target", path); err != nil {
		return nil, err
	}
	if err := m.parsePartition(desc, path); err != nil {
		return nil, err
	}
	if m.options, err = getObject(desc, "options", path); err != nil {
		return nil, err
	}
	m.Options = raw(m.options)
	return m, nil
}

func (m *Mount) parsePartition(desc *pyjson.Object, path string) error {
	v, ok := desc.Get("partition")
	if !ok {
		return nil
	}
	n, isNum := v.(pyjson.Number)
	i, isInt := n.Int64()
	if !isNum || !isInt || i < 0 || i > 1<<20 {
		return errorf(ErrStructure, jpath(path, "partition"), "use the partition's index, an integer",
			"partition %s is not a partition index", short(v))
	}
	p := int(i)
	m.Partition, m.partition = &p, n
	return nil
}
