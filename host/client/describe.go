package client

// ParamType is the kind of value a parameter accepts, for documentation
// (`luarobot types` writes robot.client's parameter types from it).
type ParamType string

const (
	TypeString  ParamType = "string"  // a string; numbers become their decimal text
	TypeInteger ParamType = "integer" // an integer, or a string of digits (64-bit ids keep every digit)
	TypeTable   ParamType = "table"   // a JSON object
	TypeList    ParamType = "list"    // a JSON array
	TypeJSON    ParamType = "json"    // any JSON value
	TypeBoolean ParamType = "boolean" // a boolean
	TypeFlag    ParamType = "flag"    // a boolean, or 0/1 as Python callers pass it
	TypePath    ParamType = "path"    // a path inside media_dir
	TypeAny     ParamType = "any"     // any value; the method checks it
)

var paramTypes = [...]ParamType{
	tString: TypeString, tInt: TypeInteger, tTable: TypeTable, tList: TypeList, tJSON: TypeJSON,
	tBool: TypeBoolean, tFlag: TypeFlag, tPath: TypePath, tAny: TypeAny,
}

// Type is the kind of value p accepts.
func (p Param) Type() ParamType { return paramTypes[p.typ] }

// Accepts says in words what p accepts ("an integer"), as argument errors
// say it.
func (p Param) Accepts() string { return typeNames[p.typ] }
